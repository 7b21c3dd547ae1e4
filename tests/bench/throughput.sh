#!/bin/bash
# getHealth (the framework ceiling) then getAccountInfo of random keys, 64 connections, same
# server. usage: throughput.sh URL PID KEYS [seconds]
# KEYS: `cargo run --release -p tests --example rpc_bench -- --case keys --requests 20000 --accounts N`
set -e
URL=$1; PID=$2; export KEYS=$3; D=${4:-10}
DIR=$(cd "$(dirname "$0")" && pwd)
for script in noop accounts; do
  t0=$(awk '{print $14+$15}' /proc/$PID/stat)
  out=$(wrk -t2 -c64 -d${D}s --latency -s "$DIR/$script.lua" "$URL")
  t1=$(awk '{print $14+$15}' /proc/$PID/stat)
  req=$(echo "$out" | grep "requests in" | awk '{print $1}')
  echo "$script: $(echo "$out" | grep Requests/sec) p50=$(echo "$out" | grep -E '^ +50%' | awk '{print $2}') p99=$(echo "$out" | grep -E '^ +99%' | awk '{print $2}') server_cpu_us/req=$(python3 -c "print(round(($t1-$t0)*10000/$req,2))")"
done
