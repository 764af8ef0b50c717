# An access list that accepts, then closes without a byte (xinetd only_from,
# tcpd hosts.deny): closer=resp, close_kind=FIN, no reply, and close_delay
# shows libwrap's 5 s wait.
# @TEST-EXEC: ln -s $PACKAGE zeekslam && zeek -b -C -r $TRACES/acl_silent_close/acl_silent_close.pcap %INPUT
# @TEST-EXEC: zeek-cut id.orig_h id.orig_p id.resp_p history conn_state closer close_kind close_delay orig_data_delay ftp_reply_code < slam.log > slam.cut
# @TEST-EXEC: btest-diff slam.cut

@load zeekslam

redef ZeekSlam::ftp_ports += { 2123/tcp, 2124/tcp };
