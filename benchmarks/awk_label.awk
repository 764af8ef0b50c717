# The floor for the benchmark: a one-pass labeler of a Zeek TSV conn.log.
#
# It reads each line once, applies a handful of history/state rules and prints
# the line with a slam.label column appended (header lines pass through, with
# the new column added to #fields and #types).  It is deliberately naive: no
# malformed-line handling, no escaping, no reasons, no slam.log join — it is
# what "read a line, look at two fields, write a line" costs, nothing more.
#
#   mawk -f benchmarks/awk_label.awk conn.log > conn.labeled.log
BEGIN { FS = OFS = "\t"; P = 7; ST = 12; H = 16 }

/^#/ {
    if ($1 == "#fields") {
        for (i = 2; i <= NF; i++) {
            if ($i == "proto") P = i - 1
            else if ($i == "conn_state") ST = i - 1
            else if ($i == "history") H = i - 1
        }
        print $0, "slam.label"
    } else if ($1 == "#types") {
        print $0, "string"
    } else {
        print
    }
    next
}

{
    st = $ST; h = $H
    if ($P != "tcp") label = "-"
    else if (st == "REJ") label = "rejected"
    else if (st == "S0") label = "no_answer"
    else if (h ~ /^ShA[a]*f/ && h !~ /[dD]/) label = "slammed"
    else if (h ~ /^ShA[a]*d[a]*f/ && h !~ /D/) label = "refused_with_reply"
    else if (h ~ /^ShA[aD]*r/ && h !~ /d/) label = "reset_after_accept"
    else if (h ~ /^Sh?R/) label = "attempt_aborted"
    else if (st == "RSTO") label = "reset_by_originator"
    else if (st == "RSTR") label = "reset_by_responder"
    else if (st == "SF" || st == "S1") label = "completed"
    else label = "midstream"
    print $0, label
}
