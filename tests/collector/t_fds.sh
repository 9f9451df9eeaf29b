#!/bin/bash
# t_fds.sh - a script that redirects its own descriptors 3 to 6, as scripts do
# (exec 3>file), writes, allocates, writes again. Each file must hold exactly its lines.
out=$1
exec 3>"$out.3" 4>"$out.4" 5>"$out.5" 6>"$out.6"
for fd in 3 4 5 6; do echo "hello $fd" >&$fd; done
s=""
for i in $(seq 3000); do s="$s$i"; done
for fd in 3 4 5 6; do echo "bye $fd ${#s}" >&$fd; done
exec 3>&- 4>&- 5>&- 6>&-
