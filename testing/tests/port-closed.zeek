# A SYN answered by RST (REJ) is logged although there was no handshake; it
# has a closer but no close_delay.
# @TEST-EXEC: ln -s $PACKAGE zeekslam && zeek -b -C -r $TRACES/port_closed/port_closed.pcap %INPUT
# @TEST-EXEC: zeek-cut id.orig_h id.orig_p id.resp_p history conn_state closer close_kind close_delay < slam.log > slam.cut
# @TEST-EXEC: btest-diff slam.cut

@load zeekslam
