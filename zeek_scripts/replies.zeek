##! Captures the server's first and last FTP reply and its first SMTP reply
##! into slam.log, and attaches the FTP and SMTP analyzers by port so that a
##! greeting-only refusal (``421 Too many connections`` then FIN, before the
##! client sent any command) is parsed at all.

@load base/frameworks/analyzer
@load ./main

module ZeekSlam;

event zeek_init()
	{
	Analyzer::register_for_ports(Analyzer::ANALYZER_FTP, ftp_ports);
	Analyzer::register_for_ports(Analyzer::ANALYZER_SMTP, smtp_ports);
	}

## Returns *msg* cut to :zeek:see:`ZeekSlam::max_reply_len` bytes, raising a
## weird when it had to cut.
function bounded(c: connection, msg: string): string
	{
	if ( |msg| <= max_reply_len )
		return msg;

	Reporter::conn_weird("ZeekSlam_reply_truncated", c, cat(|msg|), "ZeekSlam");
	return msg[:max_reply_len];
	}

event ftp_reply(c: connection, code: count, msg: string, cont_resp: bool)
	{
	# Lines inside a multi-line reply carry code 0; its first line and its
	# last line carry the code.
	if ( code == 0 || ! c?$zeekslam )
		return;

	local text = bounded(c, msg);

	if ( ! c$zeekslam?$ftp_reply_code )
		{
		c$zeekslam$ftp_reply_code = code;
		c$zeekslam$ftp_reply_msg = text;
		}

	c$zeekslam$ftp_last_reply_code = code;
	c$zeekslam$ftp_last_reply_msg = text;
	}

event smtp_reply(c: connection, is_orig: bool, code: count, cmd: string,
    msg: string, cont_resp: bool)
	{
	if ( is_orig || ! c?$zeekslam || c$zeekslam?$smtp_reply_code )
		return;

	c$zeekslam$smtp_reply_code = code;
	c$zeekslam$smtp_reply_msg = bounded(c, msg);
	}
