##! Opt-in: records the IP TTL (IPv6 hop limit) of the server's SYN-ACK and of
##! its first FIN or RST in slam.log's *resp_ttl_synack* and *resp_ttl_close*.
##! A close that arrives with a different TTL than the server's other packets
##! was likely sent by a device on the path (a firewall or IPS forging a
##! reset), not by the server.
##!
##! Load it by name after the package: ``@load zeekslam/ttl`` (zkg) or
##! ``zeek ... zeek_scripts zeek_scripts/ttl.zeek``.
##!
##! No per-packet handler: it reads the current packet's header with
##! :zeek:see:`get_current_packet_header` inside events that Zeek raises
##! while processing the packet in question (:zeek:see:`connection_established`
##! for the SYN-ACK; :zeek:see:`connection_EOF` and
##! :zeek:see:`connection_reset` for the FIN or RST).  The header is checked
##! to be the server's SYN-ACK or FIN/RST of this connection before its TTL is
##! taken; otherwise the field stays unset.  For tunnelled traffic the header
##! is the outer packet's, which fails that check, so the fields stay unset.

@load ./main

module ZeekSlam;

## The TTL or hop limit of the current packet if it was sent by *c*'s
## responder with all of the TCP *flags* bits set and at least one of *any_of*
## set (when *any_of* is not 0); otherwise 0 (never a valid TTL of a packet
## that was delivered).
function responder_ttl(c: connection, flags: count, any_of: count): count
	{
	local hdr: raw_pkt_hdr = get_current_packet_header();

	if ( ! hdr?$tcp )
		return 0;

	if ( hdr$tcp$sport != c$id$resp_p || hdr$tcp$dport != c$id$orig_p )
		return 0;

	if ( ( hdr$tcp$flags & flags ) != flags )
		return 0;

	if ( any_of != 0 && ( hdr$tcp$flags & any_of ) == 0 )
		return 0;

	if ( hdr?$ip && hdr$ip$src == c$id$resp_h && hdr$ip$dst == c$id$orig_h )
		return hdr$ip$ttl;

	if ( hdr?$ip6 && hdr$ip6$src == c$id$resp_h && hdr$ip6$dst == c$id$orig_h )
		return hdr$ip6$hlim;

	return 0;
	}

function note_close_ttl(c: connection)
	{
	if ( ! c?$zeekslam || c$zeekslam?$resp_ttl_close )
		return;

	local ttl = responder_ttl(c, 0, TH_FIN + TH_RST);
	if ( ttl > 0 )
		c$zeekslam$resp_ttl_close = ttl;
	}

# After main.zeek's handler (priority 5) has created c$zeekslam.
event connection_established(c: connection)
	{
	if ( ! c?$zeekslam || c$zeekslam?$resp_ttl_synack )
		return;

	local ttl = responder_ttl(c, TH_SYN + TH_ACK, 0);
	if ( ttl > 0 )
		c$zeekslam$resp_ttl_synack = ttl;
	}

event connection_EOF(c: connection, is_orig: bool) &priority=-1
	{
	if ( ! is_orig )
		note_close_ttl(c);
	}

event connection_reset(c: connection) &priority=-1
	{
	note_close_ttl(c);
	}
