# An SMTP server that answers 554 or 421 instead of its greeting, then closes:
# the first SMTP reply is kept (2525/tcp is in smtp_ports by default).
# @TEST-EXEC: ln -s $PACKAGE zeekslam && zeek -b -C -r $TRACES/smtp_refusal/smtp_refusal.pcap %INPUT
# @TEST-EXEC: zeek-cut id.orig_h id.orig_p id.resp_p history closer close_kind smtp_reply_code smtp_reply_msg < slam.log > slam.cut
# @TEST-EXEC: btest-diff slam.cut

@load zeekslam
