"""A module-global dict large enough that malloc maps its table apart (60000
entries, a 1.9 MB table), made last, so that its mapping is the lowest of the
program's: the scan child's own mappings are made right below it. For
tests/backrefs/run.sh (PYTHONMALLOC=malloc). Prints "ready value=0xADDR" (the
object of key 'k30000') and waits for stdin to close.
"""
import sys


class Value:
    pass


big = {}
for i in range(60000):
    big["k%d" % i] = Value()
print("ready value=0x%x" % id(big["k30000"]), flush=True)
sys.stdin.read()
