# Runs a terminal program (a TUI peer such as kdash) on a pseudo-terminal of 200x50, answers its
# cursor-position queries and throws its screen output away, until it exits or is killed.
# Used only by `klieg-bench --fleet`, which reads the program's memory and CPU from /proc.
import fcntl, os, pty, select, struct, sys, termios

pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
print(pid, flush=True)
while True:
    try:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            data = os.read(fd, 65536)
            if not data:
                break
            if b"\x1b[6n" in data:
                os.write(fd, b"\x1b[1;1R")
    except OSError:
        break
