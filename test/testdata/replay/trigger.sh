set -x
sleep 2
cp /bin/true /tmp/kite-replay-true; /tmp/kite-replay-true kite-replay
setpriv --reuid=65534 --regid=65534 --clear-groups cat /etc/shadow /nonexistent/kite-replay 2>/dev/null
/root/.pyenv/versions/3.11.7/bin/python3 -c 'import socket,sys
s=socket.socket()
try: s.connect(("127.0.0.1",3333))
except Exception as e: print(e)' kite-replay-miner
/root/.pyenv/versions/3.11.7/bin/python3 -c 'import socket,os,sys
l=socket.socket(); l.bind(("127.0.0.1",0)); l.listen(1)
s=socket.create_connection(l.getsockname())
os.execv("/bin/sh", ["/bin/sh","-c","exit 0","kite-replay-shell"])' kite-replay-connect
/root/.pyenv/versions/3.11.7/bin/python3 -c 'import os; os.execv("/bin/sh", ["/bin/sh","-c","exit 0","kite-replay-benign-shell"])' kite-replay-noconnect
rm -f /tmp/kite-replay-true
sleep 2
