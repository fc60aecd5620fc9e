#!/usr/bin/python3
"""Replaces the part of a results file between '<!-- NAME: begin -->' and
'<!-- NAME: end -->' with the text of another file; the rest is kept.
Usage: bench/splice_results.py RESULTS NAME TEXT-FILE"""
import sys

path, name, table_path = sys.argv[1:4]
table = open(table_path).read()
begin, end = f"<!-- {name}: begin -->\n", f"<!-- {name}: end -->\n"
text = open(path).read()
if begin not in text or end not in text:
    sys.exit(f"{path} has no {name} markers")
head, rest = text.split(begin, 1)
open(path, "w").write(head + begin + table + end + rest.split(end, 1)[1])
