# A greeting-only "421 too many users" refusal keeps one slam.log row with the
# reply text: the FTP analyzer is attached by port although the client never
# sent a command, the server closes first with a FIN, and the two held
# sessions are counted in resp_concurrent.
# @TEST-EXEC: ln -s $PACKAGE zeekslam && zeek -b -C -r $TRACES/conn_limit_421/conn_limit_421.pcap %INPUT
# @TEST-EXEC: zeek-cut id.orig_h id.orig_p id.resp_p history closer close_kind ftp_reply_code ftp_reply_msg resp_concurrent orig_concurrent < slam.log > slam.cut
# @TEST-EXEC: btest-diff slam.cut

@load zeekslam

redef ZeekSlam::ftp_ports += { 2127/tcp, 2128/tcp };
