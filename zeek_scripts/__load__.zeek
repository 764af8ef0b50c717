##! zeekslam: logs TCP servers that close right after the handshake, with the
##! FTP/SMTP reply that says why.  TTL tracking is opt-in: ``@load zeekslam/ttl``.

@load ./main
@load ./replies
