#!/usr/bin/env bash
# Starts or stops a throwaway 3-node MariaDB Galera cluster on 127.0.0.1 for the tests (the
# library of Debian's galera-4), each node a mariadbd of its own in DIR/nodeN, run as the
# `mysql` user when root; never the system service. Shares its server handling with
# scripts/mariadb_test_server.sh (scripts/mariadb_common.sh).
#
#   scripts/galera_test_cluster.sh start DIR BASEPORT   # prints the three nodes' URLs, one a line
#   scripts/galera_test_cluster.sh stop DIR
#   scripts/galera_test_cluster.sh kill DIR NODE        # kill -9 node 1, 2 or 3, keep its data
#   scripts/galera_test_cluster.sh resume DIR NODE      # start it again; it rejoins (IST)
#
# Ports, all from BASEPORT to BASEPORT+39: node N's clients BASEPORT+N, its group communication
# BASEPORT+10+N, its incremental state transfer BASEPORT+20+N, its snapshot transfer
# BASEPORT+30+N.
#
# No snapshot transfer at start: one data directory is made and bootstrapped once as a one-node
# cluster (with the test user), then copied to the three nodes, so nodes 2 and 3 join node 1's
# cluster at the same position without copying anything (the template uses BASEPORT and
# BASEPORT+10 while it runs). Node failure is detected in about 2 s (evs timeouts below).
set -euo pipefail

# shellcheck source=scripts/mariadb_common.sh
. "$(dirname "$0")/mariadb_common.sh"

provider=/usr/lib/galera/libgalera_smm.so

node_dir() { echo "$1/node$2"; }

# start_position NODEDIR: the node's position in the cluster's history (uuid:seqno), from
# grastate.dat after a clean shutdown, else recovered from InnoDB (mariadbd --wsrep-recover, as
# galera_recovery does after a crash). Given to the node, it joins without a state transfer, or
# with an incremental one (IST) from the others' write-set cache.
start_position() {
  local d=$1 uuid seqno
  uuid=$(sed -n 's/^uuid:[[:space:]]*//p' "$d/data/grastate.dat" 2>/dev/null)
  seqno=$(sed -n 's/^seqno:[[:space:]]*//p' "$d/data/grastate.dat" 2>/dev/null)
  if [ -n "$uuid" ] && [ -n "$seqno" ] && [ "$seqno" != -1 ]; then
    echo "$uuid:$seqno"
    return
  fi
  as_owner "$mysqld" --no-defaults --datadir="$d/data" --innodb-buffer-pool-size=64M \
    --wsrep_on=ON --wsrep_provider="$provider" --wsrep_sst_method=skip --wsrep-recover \
    --tmpdir="$d" --skip-networking >"$d/recover.log" 2>&1 || true
  sed -n 's/.*WSREP: Recovered position: *//p' "$d/recover.log" | tail -n 1
}

# launch_node DIR NODE [MARIADBD OPTION...]
launch_node() {
  local dir=$1 node=$2 base members="" n position
  shift 2
  position=$(start_position "$(node_dir "$dir" "$node")")
  base=$(cat "$dir/baseport")
  for n in 1 2 3; do members+="${members:+,}127.0.0.1:$((base + 10 + n))"; done
  local gport=$((base + 10 + node)) ist=$((base + 20 + node))
  launch_server "$(node_dir "$dir" "$node")" \
    --wsrep_on=ON --wsrep_provider="$provider" --wsrep_cluster_name=bc_test \
    --wsrep_cluster_address="gcomm://$members" --wsrep_node_name="node$node" \
    --wsrep_node_address="127.0.0.1:$gport" --wsrep_node_incoming_address="127.0.0.1:$((base + node))" \
    --wsrep_sst_method=rsync --wsrep_sst_receive_address="127.0.0.1:$((base + 30 + node))" \
    --wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$gport;ist.recv_addr=127.0.0.1:$ist;gcache.size=64M;evs.keepalive_period=PT0.5S;evs.inactive_check_period=PT0.5S;evs.suspect_timeout=PT2S;evs.inactive_timeout=PT4S;evs.install_timeout=PT4S" \
    --binlog_format=ROW --default_storage_engine=InnoDB --innodb_autoinc_lock_mode=2 \
    --wsrep_slave_threads=2 ${position:+--wsrep_start_position="$position"} "$@"
}

# wait_synced DIR NODE: until the node is a synced member of the primary component.
wait_synced() {
  local d
  d=$(node_dir "$1" "$2")
  for _ in $(seq 1 300); do
    if [ "$(root_sql "$d" -N -e "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
        WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE_COMMENT'" 2>/dev/null)" = Synced ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "galera node $2 did not reach Synced:" >&2
  tail -n 40 "$d/server.log" >&2
  exit 1
}

cmd=${1:?start|stop|kill|resume}
dir=${2:?directory}
case "$cmd" in
  start)
    base=${3:?baseport}
    own_dir "$dir"
    echo "$base" >"$dir/baseport"
    # The template: a one-node cluster, bootstrapped once with the test user, shut down cleanly
    # so that InnoDB and grastate.dat hold the same cluster position.
    template="$dir/template"
    own_dir "$template"
    install_datadir "$template"
    echo "$base" >"$template/port"
    launch_server "$template" --wsrep_on=ON --wsrep_provider="$provider" \
      --wsrep_cluster_address=gcomm:// --wsrep-new-cluster --binlog_format=ROW \
      --innodb_autoinc_lock_mode=2 \
      --wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$((base + 10));gcache.size=64M"
    create_test_user "$template"
    stop_server "$template"
    for n in 1 2 3; do
      d=$(node_dir "$dir" "$n")
      own_dir "$d"
      cp -a "$template/data" "$d/data"
      echo $((base + n)) >"$d/port"
    done
    rm -rf "$template"
    # The three start together and restore, as after a whole-cluster crash (pc.recovery), the
    # primary component written in their gvwstate.dat: all three hold the template's position,
    # so none needs a state transfer.
    uuids=()
    for n in 1 2 3; do uuids+=("$(cat /proc/sys/kernel/random/uuid)"); done
    for n in 1 2 3; do
      {
        echo "my_uuid: ${uuids[n - 1]}"
        echo "#vwbeg"
        echo "view_id: 3 ${uuids[0]} 3"
        echo "bootstrap: 0"
        for u in "${uuids[@]}"; do echo "member: $u 0"; done
        echo "#vwend"
      } >"$(node_dir "$dir" "$n")/data/gvwstate.dat"
      if [ "$(id -u)" -eq 0 ]; then chown mysql:mysql "$(node_dir "$dir" "$n")/data/gvwstate.dat"; fi
    done
    for n in 1 2 3; do launch_node "$dir" "$n" & done
    for n in 1 2 3; do wait -n; done
    for n in 1 2 3; do wait_synced "$dir" "$n"; done
    for n in 1 2 3; do test_url $((base + n)); done
    ;;
  kill)
    node=${3:?node}
    kill_server "$(node_dir "$dir" "$node")"
    ;;
  resume)
    node=${3:?node}
    launch_node "$dir" "$node"
    wait_synced "$dir" "$node"
    ;;
  stop)
    for n in 3 2 1; do
      [ -d "$(node_dir "$dir" "$n")" ] && stop_server "$(node_dir "$dir" "$n")" &
    done
    wait
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start DIR BASEPORT | stop DIR | kill DIR NODE | resume DIR NODE" >&2
    exit 2
    ;;
esac
