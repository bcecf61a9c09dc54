# Shared by scripts/bench.sh, scripts/catchup.sh and scripts/testnet.sh (sourced): the pieces of a
# local 4-validator network. Expects VALIDATORS to be set.

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A base port B such that B..B+VALIDATORS-1 (P2P) and B+1000.. (HTTP) are free; exits if none.
free_base_port() {
  local base k busy
  for base in $(seq $((29100 + RANDOM % 50 * 10)) 10 29990); do
    busy=0
    for ((k = 0; k < VALIDATORS; k++)); do
      if port_in_use $((base + k)) || port_in_use $((base + 1000 + k)); then busy=1; break; fi
    done
    [[ $busy -eq 0 ]] && { echo "$base"; return; }
  done
  echo "$(basename "$0"): no free ports in 29100..30993" >&2
  exit 1
}

# Writes the node.toml of validator directory $1, as `tally-genesis init` laid it out, plus the
# TOML text $2 if given (e.g. an [engine] section).
write_node_toml() {
  cat >"$1/node.toml" <<TOML
[node]
data_dir = "data"
genesis = "../genesis.json"
consensus_key = "consensus.key"
network_key = "network.key"

[log]
format = "human"
level = "info"
TOML
  if [[ -n "${2:-}" ]]; then printf '\n%s\n' "$2" >>"$1/node.toml"; fi
}
