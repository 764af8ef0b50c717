# Servers that abort (SO_LINGER 0, killed with unread data): the responder's
# RST is the first close, and which side sent payload first is kept.
# @TEST-EXEC: ln -s $PACKAGE zeekslam && zeek -b -C -r $TRACES/app_abort_rst/app_abort_rst.pcap %INPUT
# @TEST-EXEC: zeek-cut id.orig_h id.orig_p id.resp_p history closer close_kind close_delay orig_data_delay resp_data_delay < slam.log > slam.cut
# @TEST-EXEC: btest-diff slam.cut

@load zeekslam
