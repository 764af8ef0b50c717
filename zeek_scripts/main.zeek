##! Keeps what conn.log drops when a TCP server hangs up early.
##!
##! Writes ``slam.log``: one row per TCP connection whose handshake completed
##! and in which at least one side sent no payload, or which ended with a
##! reset, or which was rejected (REJ).  With :zeek:see:`ZeekSlam::log_all_tcp`
##! every TCP connection is logged.  Each row says who closed first, how, and
##! how long after the handshake; how long each side waited before its first
##! payload; how many other connections the server endpoint held at the time;
##! and (with ``replies.zeek``) the server's FTP or SMTP reply text.
##!
##! Zeek collects the facts; judging them is left to the reader of the log.

@load base/protocols/conn

module ZeekSlam;

export {
	## The slam logging stream identifier.
	redef enum Log::ID += { LOG };

	## A default logging policy hook for the stream.
	global log_policy: Log::PolicyHook;

	## One row of slam.log.  The first fields repeat conn.log (so the two
	## join on *uid*, and slam.log also stands alone); the rest are facts
	## conn.log does not keep.  Times are measured from Zeek's
	## :zeek:see:`connection_established`, i.e. the server's SYN-ACK.
	type Info: record {
		## Time of the connection's first packet (as conn.log's *ts*).
		ts: time &log;
		## Unique identifier of the connection (as conn.log's *uid*).
		uid: string &log;
		## The connection's 4-tuple of endpoint addresses/ports.
		id: conn_id &log;
		## Transport protocol; always ``tcp`` here.
		proto: transport_proto &log;
		## Comma-separated confirmed protocols, copied from conn.log's *service*.
		service: string &log &optional;
		## TCP state history letters, copied from conn.log's *history*.
		history: string &log &optional;
		## Connection state (S0, SF, REJ, RSTR, ...), copied from conn.log.
		conn_state: string &log &optional;
		## How long the connection lasted, copied from conn.log (unset
		## when conn.log leaves it unset, i.e. for a zero duration).
		duration: interval &log &optional;
		## Payload bytes the originator sent (from sequence numbers, as
		## conn.log's *orig_bytes*, but always set here).
		orig_bytes: count &log &optional;
		## Payload bytes the responder sent; see *orig_bytes*.
		resp_bytes: count &log &optional;
		## Bytes missed in content gaps, copied from conn.log.
		missed_bytes: count &log &optional;
		## Who sent the first FIN or RST: ``orig`` or ``resp``.  Unset if
		## neither side closed before Zeek removed the connection.
		closer: string &log &optional;
		## Kind of that first close: ``FIN`` or ``RST``.
		close_kind: string &log &optional;
		## Time from the SYN-ACK to that first FIN or RST.  Unset if there
		## was no handshake (e.g. REJ) or no close.
		close_delay: interval &log &optional;
		## Time from the SYN-ACK to the originator's first payload.  Unset
		## if it sent none within its first
		## :zeek:see:`ZeekSlam::data_probe_packets` packets after the
		## SYN-ACK; *orig_bytes* tells whether it sent any at all.
		orig_data_delay: interval &log &optional;
		## Time from the SYN-ACK to the responder's first payload; see
		## *orig_data_delay*.
		resp_data_delay: interval &log &optional;
		## Code of the server's first FTP reply (greeting or refusal).
		## Needs ``replies.zeek`` and the FTP analyzer on the port.
		ftp_reply_code: count &log &optional;
		## Text of the server's first FTP reply line, without the code;
		## capped at :zeek:see:`ZeekSlam::max_reply_len` bytes.
		ftp_reply_msg: string &log &optional;
		## Code of the server's last FTP reply (e.g. 421 on a timeout).
		ftp_last_reply_code: count &log &optional;
		## Text of the server's last FTP reply line; capped likewise.
		ftp_last_reply_msg: string &log &optional;
		## Code of the server's first SMTP reply (greeting or refusal).
		smtp_reply_code: count &log &optional;
		## Text of the server's first SMTP reply line, without the code;
		## capped likewise.
		smtp_reply_msg: string &log &optional;
		## Established connections to the same server address and port
		## when this one was established, not counting itself.  A
		## connection stops counting once the server closed its side
		## (FIN or RST), either side reset, or Zeek removed it.
		resp_concurrent: count &log &optional;
		## Of *resp_concurrent*, how many came from this client address.
		orig_concurrent: count &log &optional;
		## IP TTL (IPv6 hop limit) of the server's SYN-ACK.  Only with
		## ``ttl.zeek`` loaded.
		resp_ttl_synack: count &log &optional;
		## IP TTL (IPv6 hop limit) of the server's first FIN or RST.  A
		## value different from *resp_ttl_synack* suggests that a device
		## on the path, not the server, sent it.  Only with ``ttl.zeek``.
		resp_ttl_close: count &log &optional;
	};

	## Ports on which the FTP analyzer is attached by port, so that a
	## greeting-only refusal (``421`` and FIN before any client command)
	## is parsed.  Stock Zeek attaches FTP only on 21/tcp and 2811/tcp or
	## after a client command.  Read once at start-up.
	const ftp_ports: set[port] = {
		21/tcp,
		2121/tcp
	} &redef;

	## Ports on which the SMTP analyzer is attached by port, so that a
	## greeting-only ``421``/``554`` refusal is parsed.  Read at start-up.
	const smtp_ports: set[port] = {
		25/tcp,
		587/tcp,
		2525/tcp
	} &redef;

	## Log every TCP connection, not only the ones the default rule picks
	## (handshake completed and a silent side, a reset, or REJ).
	option log_all_tcp = F;

	## Reply text longer than this many bytes is truncated, and a
	## ``ZeekSlam_reply_truncated`` weird is raised.  The text is chosen
	## by the server, so it is bounded.
	option max_reply_len: count = 512;

	## How many packets per side, after the SYN-ACK, are inspected for
	## that side's first payload (one cheap threshold event per packet,
	## only until the first payload or close).  Bounds the cost on bulk
	## one-way transfers; 0 turns the data delays off.
	option data_probe_packets: count = 10;

	## Called from the connection's removal to write its row, if any.
	global finalize_slam: Conn::RemovalHook;

	## Event that can be handled to access the :zeek:type:`ZeekSlam::Info`
	## record as it is sent on to the logging framework.
	global log_slam: event(rec: Info);
}

## Per-connection bookkeeping that is not logged.
type State: record {
	## Time of the SYN-ACK (connection_established).
	established: time &optional;
	## Time of the first FIN or RST.
	close_ts: time &optional;
	## Time of each side's first payload.
	orig_data_ts: time &optional;
	resp_data_ts: time &optional;
	## Threshold events spent on each side's payload probe.
	orig_probes: count &default=0;
	resp_probes: count &default=0;
	## Whether this connection is in the concurrency tables, and its keys
	## there (kept, so a later role flip cannot unbalance the counts).
	counted: bool &default=F;
	key_resp_h: addr &optional;
	key_resp_p: port &optional;
	key_orig_h: addr &optional;
};

redef record connection += {
	zeekslam: Info &optional;
	zeekslam_state: State &optional;
};

# Established, not yet closed connections per server endpoint, and per
# server endpoint and client address.  Entries are deleted when they reach
# zero; the expiry only guards against leaks.  An endpoint untouched (no
# connection established or closed) for 6 hours loses its count, so a very
# long-lived connection may be undercounted afterwards.
global resp_open: table[addr, port] of count &default=0 &read_expire=6hrs;
global orig_open: table[addr, port, addr] of count &default=0 &read_expire=6hrs;

event zeek_init() &priority=5
	{
	Log::create_stream(ZeekSlam::LOG, Log::Stream($columns=Info, $ev=log_slam,
	    $path="slam", $policy=log_policy));
	}

## Starts tracking a TCP connection: the log record, the bookkeeping and the
## removal hook.  Idempotent.
function track(c: connection)
	{
	if ( c?$zeekslam )
		return;

	c$zeekslam = Info($ts=c$start_time, $uid=c$uid, $id=c$id,
	    $proto=get_port_transport_proto(c$id$resp_p));
	c$zeekslam_state = State();
	Conn::register_removal_hook(c, finalize_slam);
	}

## Removes the connection from the concurrency counts (once).
function release(c: connection)
	{
	if ( ! c?$zeekslam_state || ! c$zeekslam_state$counted )
		return;

	local s = c$zeekslam_state;
	s$counted = F;

	if ( [s$key_resp_h, s$key_resp_p] in resp_open )
		{
		local n = resp_open[s$key_resp_h, s$key_resp_p];
		if ( n <= 1 )
			delete resp_open[s$key_resp_h, s$key_resp_p];
		else
			resp_open[s$key_resp_h, s$key_resp_p] = n - 1;
		}

	if ( [s$key_resp_h, s$key_resp_p, s$key_orig_h] in orig_open )
		{
		local m = orig_open[s$key_resp_h, s$key_resp_p, s$key_orig_h];
		if ( m <= 1 )
			delete orig_open[s$key_resp_h, s$key_resp_p, s$key_orig_h];
		else
			orig_open[s$key_resp_h, s$key_resp_p, s$key_orig_h] = m - 1;
		}
	}

## Records the first FIN or RST, if none was recorded yet.
function note_close(c: connection, is_orig: bool, kind: string)
	{
	if ( ! c?$zeekslam || c$zeekslam?$closer )
		return;

	c$zeekslam$closer = is_orig ? "orig" : "resp";
	c$zeekslam$close_kind = kind;
	c$zeekslam_state$close_ts = network_time();
	}

## Arms (or re-arms) the payload probe of one side: a packet-count threshold
## on Zeek's connection-size analyzer, crossed by that side's next packet.
function arm_probe(c: connection, is_orig: bool, seen: count)
	{
	local s = c$zeekslam_state;
	local spent = is_orig ? s$orig_probes : s$resp_probes;

	if ( spent >= data_probe_packets )
		return;

	if ( is_orig )
		++s$orig_probes;
	else
		++s$resp_probes;

	ConnThreshold::set_packets_threshold(c, seen + 1, is_orig);
	}

## Checks one side for its first payload; returns T once it is known.
function check_data(c: connection, is_orig: bool): bool
	{
	local s = c$zeekslam_state;
	local ep = is_orig ? c$orig : c$resp;

	if ( is_orig && s?$orig_data_ts )
		return T;
	if ( ! is_orig && s?$resp_data_ts )
		return T;

	if ( ep$size == 0 )
		return F;

	if ( is_orig )
		s$orig_data_ts = network_time();
	else
		s$resp_data_ts = network_time();

	return T;
	}

## Packets this side has sent so far, per the connection-size analyzer.
function pkts_seen(c: connection, is_orig: bool): count
	{
	local ep = is_orig ? c$orig : c$resp;
	return ep?$num_pkts ? ep$num_pkts : 0;
	}

event new_connection(c: connection)
	{
	if ( log_all_tcp && get_port_transport_proto(c$id$resp_p) == tcp )
		track(c);
	}

event connection_established(c: connection) &priority=5
	{
	track(c);
	local s = c$zeekslam_state;

	if ( s?$established )
		return;

	s$established = network_time();

	# Concurrency: count the others first, then add this one.
	s$key_resp_h = c$id$resp_h;
	s$key_resp_p = c$id$resp_p;
	s$key_orig_h = c$id$orig_h;
	c$zeekslam$resp_concurrent = resp_open[s$key_resp_h, s$key_resp_p];
	c$zeekslam$orig_concurrent = orig_open[s$key_resp_h, s$key_resp_p,
	    s$key_orig_h];
	resp_open[s$key_resp_h, s$key_resp_p] = c$zeekslam$resp_concurrent + 1;
	orig_open[s$key_resp_h, s$key_resp_p, s$key_orig_h] =
	    c$zeekslam$orig_concurrent + 1;
	s$counted = T;

	# Payload probes; a SYN may already carry data (TCP Fast Open).
	if ( ! check_data(c, T) )
		arm_probe(c, T, pkts_seen(c, T));
	if ( ! check_data(c, F) )
		arm_probe(c, F, pkts_seen(c, F));
	}

event ConnThreshold::packets_threshold_crossed(c: connection, threshold: count,
    is_orig: bool)
	{
	if ( ! c?$zeekslam_state || ! c$zeekslam_state?$established )
		return;

	if ( check_data(c, is_orig) )
		return;

	# A side that has closed or reset sends no more payload.
	local ep = is_orig ? c$orig : c$resp;
	if ( ep$state == TCP_CLOSED || ep$state == TCP_RESET )
		return;

	local seen = pkts_seen(c, is_orig);
	arm_probe(c, is_orig, seen > threshold ? seen : threshold);
	}

event connection_rejected(c: connection)
	{
	track(c);
	note_close(c, F, "RST");
	}

event connection_reset(c: connection)
	{
	track(c);

	# Raised on the RST itself while the peer is still open, so the side
	# in TCP_RESET state sent it.  If both are reset, connection_EOF or
	# the history letters decide.
	if ( c$resp$state == TCP_RESET && c$orig$state != TCP_RESET )
		note_close(c, F, "RST");
	else if ( c$orig$state == TCP_RESET && c$resp$state != TCP_RESET )
		note_close(c, T, "RST");

	release(c);
	}

event connection_EOF(c: connection, is_orig: bool)
	{
	# Raised by the reassembler once per side, at that side's FIN or RST
	# (after any data before it was delivered).
	if ( ! c?$zeekslam )
		return;

	local ep = is_orig ? c$orig : c$resp;
	note_close(c, is_orig, ep$state == TCP_RESET ? "RST" : "FIN");

	# Once the server has closed its side, it no longer holds the slot.
	if ( ! is_orig )
		release(c);
	}

event connection_finished(c: connection)
	{
	release(c);
	}

## Fills closer/close_kind from the history letters when no event did
## (e.g. no reassembly); the first F/f/R/r/I/i letter wins.
function close_from_history(rec: Info, h: string)
	{
	local i = 0;
	while ( i < |h| )
		{
		local ch = h[i];
		if ( ch == "F" || ch == "R" || ch == "I" )
			{
			rec$closer = "orig";
			rec$close_kind = ch == "F" ? "FIN" : "RST";
			return;
			}
		if ( ch == "f" || ch == "r" || ch == "i" )
			{
			rec$closer = "resp";
			rec$close_kind = ch == "f" ? "FIN" : "RST";
			return;
			}
		++i;
		}
	}

## The default logging rule; see the module summary.
function wanted(c: connection): bool
	{
	if ( log_all_tcp )
		return T;

	if ( /[Rr]/ in c$history )
		return T;

	if ( c?$conn && c$conn?$conn_state && c$conn$conn_state == "REJ" )
		return T;

	return c$zeekslam_state?$established
	    && ( c$orig$size == 0 || c$resp$size == 0 );
	}

hook finalize_slam(c: connection)
	{
	if ( ! c?$zeekslam )
		return;

	release(c);

	if ( ! wanted(c) )
		return;

	local rec = c$zeekslam;
	local s = c$zeekslam_state;

	# conn.log filled c$conn at priority 5 of connection_state_remove;
	# removal hooks run at -3, before it is written at -5.
	if ( c?$conn )
		{
		if ( c$conn?$service )
			rec$service = c$conn$service;
		if ( c$conn?$conn_state )
			rec$conn_state = c$conn$conn_state;
		if ( c$conn?$duration )
			rec$duration = c$conn$duration;
		rec$missed_bytes = c$conn$missed_bytes;
		}

	if ( c$history != "" )
		rec$history = c$history;

	rec$orig_bytes = c$orig$size;
	rec$resp_bytes = c$resp$size;

	if ( ! rec?$closer )
		close_from_history(rec, c$history);

	if ( s?$established )
		{
		if ( s?$close_ts && s$close_ts >= s$established )
			rec$close_delay = s$close_ts - s$established;
		if ( s?$orig_data_ts && s$orig_data_ts >= s$established )
			rec$orig_data_delay = s$orig_data_ts - s$established;
		if ( s?$resp_data_ts && s$resp_data_ts >= s$established )
			rec$resp_data_delay = s$resp_data_ts - s$established;
		}

	Log::write(ZeekSlam::LOG, rec);
	}
