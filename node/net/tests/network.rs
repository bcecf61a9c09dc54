//! Real swarms on 127.0.0.1: gossip, request-response, the allow list, and reconnection.
//! Every wait is bounded by a timeout, so a broken network fails the test instead of hanging.

use std::time::Duration;

use tally_net::{
    Keypair, NetEvent, NetHandle, NetworkConfig, Peer, Topic, Verdict, build, keypair_from_seed,
    peer_id_from_public_key,
};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn key(seed: u8) -> Keypair {
    keypair_from_seed([seed; 32]).expect("valid seed")
}

struct Node {
    handle: NetHandle,
    events: mpsc::Receiver<NetEvent>,
    task: tokio::task::JoinHandle<()>,
}

fn start(keypair: Keypair, port: u16, validators: Vec<Peer>, observers: Vec<libp2p::PeerId>) -> Node {
    let addr = format!("/ip4/127.0.0.1/tcp/{port}").parse().expect("multiaddr");
    let mut config = NetworkConfig::new("tally-net-test".into(), keypair, addr, validators);
    config.observers = observers;
    config.redial_interval_ms = 200;
    config.request_timeout_ms = 3_000;
    let (handle, events, event_loop) = build(config).expect("build");
    let task = tokio::spawn(event_loop.run());
    Node { handle, events, task }
}

fn cluster_peers(seeds: &[u8], ports: &[u16]) -> Vec<Peer> {
    seeds
        .iter()
        .zip(ports)
        .map(|(seed, port)| Peer {
            peer_id: key(*seed).public().to_peer_id(),
            addr: format!("/ip4/127.0.0.1/tcp/{port}").parse().expect("multiaddr"),
        })
        .collect()
}

async fn wait_connected(handle: &NetHandle, count: usize) {
    tokio::time::timeout(WAIT, async {
        loop {
            if handle.connected_peers().await.expect("peers").len() >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("peers did not connect in time");
}

/// Waits for the next gossip message, skipping connection events.
async fn next_gossip(
    events: &mut mpsc::Receiver<NetEvent>,
) -> (Topic, libp2p::PeerId, tally_net::MessageId, Vec<u8>) {
    tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await.expect("event loop alive") {
                NetEvent::Gossip { topic, source, id, data } => return (topic, source, id, data),
                _ => continue,
            }
        }
    })
    .await
    .expect("no gossip in time")
}

#[test]
fn peer_ids_derive_from_genesis_network_keys() {
    let keypair = key(5);
    let public = keypair.public().try_into_ed25519().expect("ed25519").to_bytes();
    assert_eq!(peer_id_from_public_key(&public).expect("valid"), keypair.public().to_peer_id());
    // Not every 32-byte string is a point on the curve: about half of all y coordinates have
    // no x. Some of the first few small y values must be refused.
    let refused = (2u8..40)
        .filter(|y| {
            let mut bytes = [0u8; 32];
            bytes[0] = *y;
            peer_id_from_public_key(&bytes).is_err()
        })
        .count();
    assert!(refused > 0, "every candidate key was accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_reaches_every_validator() {
    let seeds = [1u8, 2, 3];
    let ports: Vec<u16> = seeds.iter().map(|_| free_port()).collect();
    let peers = cluster_peers(&seeds, &ports);
    let mut nodes: Vec<Node> = seeds
        .iter()
        .zip(&ports)
        .map(|(seed, port)| start(key(*seed), *port, peers.clone(), vec![]))
        .collect();
    for node in &nodes {
        wait_connected(&node.handle, 2).await;
    }
    // Gossipsub needs a heartbeat or two to build its mesh; publish until both others hear it.
    // Each attempt is new bytes: a message id is its content's, so the same bytes again would
    // be refused as a duplicate (and an attempt before the mesh exists may find no peers).
    let sender = nodes[0].handle.clone();
    let publisher = tokio::spawn(async move {
        for attempt in 0..40 {
            let payload = format!("block proposal bytes {attempt}").into_bytes();
            let _ = sender.publish(Topic::Consensus, payload).await;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    for node in nodes.iter_mut().skip(1) {
        let (topic, source, id, data) = next_gossip(&mut node.events).await;
        assert_eq!(topic, Topic::Consensus);
        assert!(data.starts_with(b"block proposal bytes "), "{data:?}");
        node.handle.report(id, source, Verdict::Accept).await.expect("report");
    }
    publisher.abort();
    for node in nodes {
        node.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_get_responses_and_oversize_requests_are_refused() {
    let seeds = [11u8, 12];
    let ports: Vec<u16> = seeds.iter().map(|_| free_port()).collect();
    let peers = cluster_peers(&seeds, &ports);
    let a = start(key(11), ports[0], peers.clone(), vec![]);
    let mut b = start(key(12), ports[1], peers.clone(), vec![]);
    wait_connected(&a.handle, 1).await;

    let responder = b.handle.clone();
    let server = tokio::spawn(async move {
        while let Some(event) = b.events.recv().await {
            if let NetEvent::Request { request, reply, .. } = event {
                let mut answer = b"echo:".to_vec();
                answer.extend_from_slice(&request);
                responder.respond(reply, answer).await.expect("respond");
            }
        }
    });
    let response = a.handle.request(peers[1].peer_id, b"height 7".to_vec()).await.expect("response");
    assert_eq!(response, b"echo:height 7");

    let oversize = vec![0u8; 64 * 1024 + 1];
    let error = a.handle.request(peers[1].peer_id, oversize).await.expect_err("too large");
    assert!(error.to_string().contains("exceeds the limit"), "{error}");
    server.abort();
    a.task.abort();
    b.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_outside_the_allow_list_cannot_connect_or_inject() {
    let seeds = [21u8, 22];
    let ports: Vec<u16> = seeds.iter().map(|_| free_port()).collect();
    let peers = cluster_peers(&seeds, &ports);
    let mut a = start(key(21), ports[0], peers.clone(), vec![]);
    let b = start(key(22), ports[1], peers.clone(), vec![]);
    wait_connected(&a.handle, 1).await;

    // The intruder knows the validators' addresses and ids, and lists itself among them.
    let intruder_key = key(99);
    let intruder_id = intruder_key.public().to_peer_id();
    let intruder_port = free_port();
    let mut intruder_view = peers.clone();
    intruder_view.push(Peer {
        peer_id: intruder_id,
        addr: format!("/ip4/127.0.0.1/tcp/{intruder_port}").parse().expect("multiaddr"),
    });
    let intruder = start(intruder_key, intruder_port, intruder_view, vec![]);
    let intruder_handle = intruder.handle.clone();
    let spam = tokio::spawn(async move {
        for i in 0..20u32 {
            let _ = intruder_handle.publish(Topic::Consensus, format!("forged {i}").into_bytes()).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    intruder.handle.send_direct(peers[0].peer_id, b"forged vote".to_vec()).await.expect("queued");
    let request = intruder.handle.request(peers[0].peer_id, b"give me blocks".to_vec()).await;
    assert!(request.is_err(), "the intruder got a response: {request:?}");

    // For 2.5 s (many redials), validator A sees neither a connection nor a message from it.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(2500);
    while let Ok(event) = tokio::time::timeout_at(deadline, a.events.recv()).await {
        match event {
            Some(NetEvent::PeerConnected(peer)) => assert_ne!(peer, intruder_id, "intruder connected"),
            Some(NetEvent::Gossip { data, .. }) => {
                panic!("gossip arrived: {}", String::from_utf8_lossy(&data))
            }
            Some(NetEvent::Request { peer, .. }) => panic!("request from {peer}"),
            Some(NetEvent::Direct { peer, .. }) => panic!("direct message from {peer}"),
            Some(NetEvent::PeerDisconnected(_)) => {}
            None => break,
        }
    }
    let connected = a.handle.connected_peers().await.expect("peers");
    assert!(!connected.contains(&intruder_id));
    spam.abort();
    for task in [a.task, b.task, intruder.task] {
        task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_on_the_allow_list_may_connect() {
    let seeds = [31u8, 32];
    let ports: Vec<u16> = seeds.iter().map(|_| free_port()).collect();
    let peers = cluster_peers(&seeds, &ports);
    let observer_key = key(33);
    let observer_id = observer_key.public().to_peer_id();
    let a = start(key(31), ports[0], peers.clone(), vec![observer_id]);
    // The observer dials validator A only.
    let observer = start(observer_key, free_port(), vec![peers[0].clone()], vec![]);
    wait_connected(&observer.handle, 1).await;
    assert!(a.handle.connected_peers().await.expect("peers").contains(&observer_id));
    a.task.abort();
    observer.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_validator_is_reconnected() {
    let seeds = [41u8, 42];
    let ports: Vec<u16> = seeds.iter().map(|_| free_port()).collect();
    let peers = cluster_peers(&seeds, &ports);
    let a = start(key(41), ports[0], peers.clone(), vec![]);
    let b = start(key(42), ports[1], peers.clone(), vec![]);
    wait_connected(&a.handle, 1).await;
    b.task.abort();
    drop(b.handle);
    // Let the connection drop, then bring the validator back on the same key and port.
    tokio::time::timeout(WAIT, async {
        while !a.handle.connected_peers().await.expect("peers").is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("connection to the stopped validator did not close");
    let b = start(key(42), ports[1], peers.clone(), vec![]);
    wait_connected(&a.handle, 1).await;
    wait_connected(&b.handle, 1).await;
    a.task.abort();
    b.task.abort();
}

/// Direct messages are delivered every time they are sent, identical bytes included (consensus
/// re-broadcasts rely on it; gossip would swallow them as duplicates).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_are_delivered_every_time_even_when_identical() {
    let seeds = [51u8, 52];
    let ports: Vec<u16> = seeds.iter().map(|_| free_port()).collect();
    let peers = cluster_peers(&seeds, &ports);
    let a = start(key(51), ports[0], peers.clone(), vec![]);
    let mut b = start(key(52), ports[1], peers.clone(), vec![]);
    wait_connected(&a.handle, 1).await;
    let payload = b"nullify view 9".to_vec();
    for _ in 0..3 {
        a.handle.send_direct(peers[1].peer_id, payload.clone()).await.expect("send");
    }
    let mut copies = 0;
    tokio::time::timeout(WAIT, async {
        while copies < 3 {
            if let Some(NetEvent::Direct { peer, data }) = b.events.recv().await {
                assert_eq!(peer, peers[0].peer_id);
                assert_eq!(data, payload);
                copies += 1;
            }
        }
    })
    .await
    .expect("three copies in time");
    let oversize = vec![0u8; 16 * 1024 * 1024 + 1];
    assert!(a.handle.send_direct(peers[1].peer_id, oversize).await.is_err());
    a.task.abort();
    b.task.abort();
}

/// Waits until `handle` is (or is no longer) connected to `peer`.
async fn wait_link(handle: &NetHandle, peer: libp2p::PeerId, connected: bool) {
    tokio::time::timeout(WAIT, async {
        loop {
            if handle.connected_peers().await.expect("peers").contains(&peer) == connected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the link to {peer} did not become connected={connected} in time"));
}

/// Watches `events` for `window` and fails if `peer` connects or anything from it arrives.
async fn assert_silent(events: &mut mpsc::Receiver<NetEvent>, peer: libp2p::PeerId, window: Duration) {
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(event) = tokio::time::timeout_at(deadline, events.recv()).await {
        match event {
            Some(NetEvent::PeerConnected(from)) => assert_ne!(from, peer, "{peer} connected"),
            Some(NetEvent::Direct { peer: from, data }) => {
                assert_ne!(from, peer, "a direct message from {peer}: {}", String::from_utf8_lossy(&data))
            }
            Some(NetEvent::Gossip { source, .. }) => assert_ne!(source, peer, "gossip from {peer}"),
            Some(NetEvent::Request { peer: from, .. }) => assert_ne!(from, peer, "a request from {peer}"),
            Some(NetEvent::PeerDisconnected(_)) => {}
            None => break,
        }
    }
}

/// Waits for a direct message from `peer`, skipping other events.
async fn next_direct_from(events: &mut mpsc::Receiver<NetEvent>, peer: libp2p::PeerId) -> Vec<u8> {
    tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await.expect("event loop alive") {
                NetEvent::Direct { peer: from, data } if from == peer => return data,
                _ => continue,
            }
        }
    })
    .await
    .expect("no direct message in time")
}

/// The allow list follows the validator set without a restart (issue #12 item 4): a validator
/// of a later epoch is refused until the set names it, then admitted, and its messages arrive;
/// a removed validator's connection closes and, though it keeps dialling and sending (votes
/// travel as direct messages), nothing from it arrives any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allow_list_follows_set_validators() {
    let seeds = [51u8, 52, 53];
    let ports: Vec<u16> = seeds.iter().map(|_| free_port()).collect();
    let peers = cluster_peers(&seeds, &ports);
    let (a_id, b_id, c_id) = (peers[0].peer_id, peers[1].peer_id, peers[2].peer_id);
    // A and B validate; C is a validator-to-be that already lists itself with them.
    let mut a = start(key(51), ports[0], peers[..2].to_vec(), vec![]);
    let b = start(key(52), ports[1], peers[..2].to_vec(), vec![]);
    let c = start(key(53), ports[2], peers.clone(), vec![]);
    wait_link(&a.handle, b_id, true).await;
    c.handle.send_direct(a_id, b"early vote".to_vec()).await.expect("queued");
    assert_silent(&mut a.events, c_id, Duration::from_millis(1500)).await;
    assert!(!a.handle.connected_peers().await.expect("peers").contains(&c_id));

    // C's epoch begins: A and B admit it, and its messages arrive.
    a.handle.set_validators(peers.clone()).await.expect("set");
    b.handle.set_validators(peers.clone()).await.expect("set");
    wait_link(&a.handle, c_id, true).await;
    wait_link(&c.handle, a_id, true).await;
    c.handle.send_direct(a_id, b"vote of the new epoch".to_vec()).await.expect("queued");
    assert_eq!(next_direct_from(&mut a.events, c_id).await, b"vote of the new epoch");

    // B is removed: A (and C) drop it. B still lists A and C, redials every 200 ms and sends.
    let without_b = vec![peers[0].clone(), peers[2].clone()];
    a.handle.set_validators(without_b.clone()).await.expect("set");
    c.handle.set_validators(without_b).await.expect("set");
    wait_link(&a.handle, b_id, false).await;
    let b_handle = b.handle.clone();
    let votes = tokio::spawn(async move {
        for i in 0..20u32 {
            let _ = b_handle.send_direct(a_id, format!("stale vote {i}").into_bytes()).await;
            let _ = b_handle.publish(Topic::Consensus, format!("stale gossip {i}").into_bytes()).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    assert_silent(&mut a.events, b_id, Duration::from_millis(2500)).await;
    assert!(!a.handle.connected_peers().await.expect("peers").contains(&b_id));
    // The validators that stay still talk.
    c.handle.send_direct(a_id, b"still here".to_vec()).await.expect("queued");
    assert_eq!(next_direct_from(&mut a.events, c_id).await, b"still here");
    votes.abort();
    for task in [a.task, b.task, c.task] {
        task.abort();
    }
}

/// Misconduct is penalized (issue #17 item 7): a validator that floods invalid gossip is
/// disconnected and refused once it passes `invalid_messages_max` rejections, while a peer
/// with fewer rejections stays connected; when the penalty is over it is allowed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_flooding_invalid_gossip_is_penalized_then_allowed_again() {
    let seeds = [61u8, 62, 63];
    let ports: Vec<u16> = seeds.iter().map(|_| free_port()).collect();
    let peers = cluster_peers(&seeds, &ports);
    let (flooder, honest) = (peers[1].peer_id, peers[2].peer_id);
    let addr = format!("/ip4/127.0.0.1/tcp/{}", ports[0]).parse().expect("multiaddr");
    let mut config = NetworkConfig::new("tally-net-test".into(), key(seeds[0]), addr, peers.clone());
    config.redial_interval_ms = 200;
    config.invalid_messages_max = 10;
    config.invalid_window_ms = 600_000;
    config.penalty_ms = 3_000;
    let (judge, mut judge_events, judge_loop) = build(config).expect("build");
    let judge_task = tokio::spawn(judge_loop.run());
    let others: Vec<Node> =
        [1, 2].iter().map(|&i| start(key(seeds[i]), ports[i], peers.clone(), vec![])).collect();
    wait_connected(&judge, 2).await;

    // Both publish distinct garbage until the judge has rejected 5 from the honest peer and
    // more than 10 from the flooder (the others report nothing, so nothing is forwarded: each
    // message reaches the judge from its publisher only).
    let publishers: Vec<_> = others
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let handle = node.handle.clone();
            tokio::spawn(async move {
                for attempt in 0..400 {
                    let _ = handle
                        .publish(Topic::Transactions, format!("garbage {index} {attempt}").into_bytes())
                        .await;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            })
        })
        .collect();
    let (mut from_flooder, mut from_honest) = (0, 0);
    while from_flooder <= 10 || from_honest < 5 {
        let (_, source, id, _) = next_gossip(&mut judge_events).await;
        let reject = if source == flooder {
            from_flooder += 1;
            true
        } else {
            from_honest += 1;
            from_honest <= 5
        };
        let verdict = if reject { Verdict::Reject } else { Verdict::Ignore };
        judge.report(id, source, verdict).await.expect("report");
    }
    wait_link(&judge, flooder, false).await;
    assert_eq!(judge.penalized_peers().await.expect("penalized"), vec![flooder]);
    assert!(judge.connected_peers().await.expect("peers").contains(&honest), "the honest peer stays");
    for publisher in publishers {
        publisher.abort();
    }
    // The flooder keeps dialing; it is refused until the penalty is over, then admitted.
    wait_link(&judge, flooder, true).await;
    assert!(judge.penalized_peers().await.expect("penalized").is_empty());
    judge_task.abort();
    for node in others {
        node.task.abort();
    }
}
