# Reply text is chosen by the server, so it is capped at max_reply_len and a
# ZeekSlam_reply_truncated weird is raised.
# @TEST-EXEC: ln -s $PACKAGE zeekslam && zeek -b -C -r $TRACES/conn_limit_421/conn_limit_421.pcap %INPUT
# @TEST-EXEC: zeek-cut ftp_reply_code ftp_reply_msg < slam.log > slam.cut
# @TEST-EXEC: btest-diff slam.cut
# @TEST-EXEC: zeek-cut name addl < weird.log | grep ZeekSlam_reply_truncated | sort | uniq -c > weird.cut
# @TEST-EXEC: btest-diff weird.cut

@load base/frameworks/notice/weird
@load zeekslam

redef ZeekSlam::ftp_ports += { 2127/tcp, 2128/tcp };
redef ZeekSlam::max_reply_len = 12;
