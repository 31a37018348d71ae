#!/usr/bin/env bash
# Spark 4 needs Java 17 or newer. Say how to get it instead of failing obscurely later.
set -euo pipefail
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
if ! command -v "$JAVA" >/dev/null 2>&1; then
  echo "error: Java not found. Spark 4 needs Java 17+. On Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless" >&2
  exit 1
fi
ver=$("$JAVA" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
major=${ver%%.*}
if [ "$major" = "1" ]; then major=$(echo "$ver" | cut -d. -f2); fi
if ! [ "$major" -ge 17 ] 2>/dev/null; then
  echo "error: Java $ver found, Spark 4 needs Java 17+. On Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless (and set JAVA_HOME)" >&2
  exit 1
fi
echo "Java $ver: ok"
