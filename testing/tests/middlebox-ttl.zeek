# With ttl.zeek, a reset forged by a router arrives with another TTL than the
# server's SYN-ACK; the server's own SO_LINGER-0 reset keeps the server's TTL.
# @TEST-EXEC: ln -s $PACKAGE zeekslam && zeek -b -C -r $TRACES/middlebox_rst/middlebox_rst.pcap %INPUT
# @TEST-EXEC: zeek-cut id.orig_h id.orig_p id.resp_p history closer close_kind resp_ttl_synack resp_ttl_close < slam.log > slam.cut
# @TEST-EXEC: btest-diff slam.cut

@load zeekslam
@load zeekslam/ttl

redef ZeekSlam::ftp_ports += { 2211/tcp };
