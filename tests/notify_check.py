#!/usr/bin/env python3
"""Runs a ces program as systemd would for Type=notify, with NOTIFY_SOCKET on
a unix datagram socket this script owns and WATCHDOG_USEC set, and checks:
READY=1 comes once the program answers HTTP; WATCHDOG=1 comes periodically;
SIGHUP brings RELOADING=1 then READY=1; SIGTERM brings STOPPING=1 and exit 0.
usage: notify_check.py SCRATCH_DIR PROGRAM ARGS... (the program must print its
HTTP port in its banner as http://127.0.0.1:PORT/)"""
import os, re, signal, socket, subprocess, sys, time, urllib.request

scratch, program = sys.argv[1], sys.argv[2:]
path = os.path.join(scratch, "notify.sock")
server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
server.bind(path)
server.settimeout(0.1)
log = open(os.path.join(scratch, "notify-program.log"), "w+")
env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
child = subprocess.Popen(program, env=env, stdout=log, stderr=subprocess.STDOUT)


def fail(why):
    log.seek(0)
    print("FAIL: " + why + "\n" + log.read())
    sys.exit(1)


def receive(wanted, seconds):
    """Messages until one holds wanted (a line), or fails after seconds"""
    got = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            message = server.recv(4096).decode()
        except socket.timeout:
            continue
        got.append((time.monotonic(), message))
        if wanted in message.split("\n"):
            return got
    fail("no %s within %s s; got %r" % (wanted, seconds, [m for _, m in got]))


try:
    got = receive("READY=1", 30)
    if any("WATCHDOG=1" in m for _, m in got):
        fail("WATCHDOG=1 before READY=1")
    log.flush()
    log.seek(0)
    port = re.search(r"http://127\.0\.0\.1:(\d+)/", log.read())
    if not port:
        fail("no port in the banner when READY=1 came")
    health = urllib.request.urlopen("http://127.0.0.1:%s/health" % port.group(1), timeout=5)
    if health.status != 200:
        fail("/health answered %d after READY=1" % health.status)
    print("ok - READY=1 once /health answers")

    start = time.monotonic()
    beats = 0
    while time.monotonic() - start < 1.0:
        try:
            beats += server.recv(4096).decode().split("\n").count("WATCHDOG=1")
        except socket.timeout:
            pass
    # Every 100 ms (half of WATCHDOG_USEC): about 10 in a second
    if beats < 5:
        fail("%d WATCHDOG=1 in 1 s with WATCHDOG_USEC=200000" % beats)
    print("ok - WATCHDOG=1 %d times in 1 s (WATCHDOG_USEC=200000)" % beats)

    child.send_signal(signal.SIGHUP)
    got = receive("RELOADING=1", 10)
    got = receive("READY=1", 10)
    print("ok - SIGHUP: RELOADING=1, then READY=1")

    child.send_signal(signal.SIGTERM)
    receive("STOPPING=1", 10)
    code = child.wait(timeout=30)
    if code != 0:
        fail("exit code %d after SIGTERM" % code)
    print("ok - SIGTERM: STOPPING=1, exit 0")
finally:
    if child.poll() is None:
        child.kill()
        child.wait()
    server.close()
    os.unlink(path)
