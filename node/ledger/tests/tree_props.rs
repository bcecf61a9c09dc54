//! Property tests of the state tree against a naive reference: a `BTreeMap` model of the
//! key/value set and a root computed recursively from the whole set, straight from the
//! definition in `tally_types::smt`. Random batches of inserts, overwrites and deletes,
//! over random keys and over clusters of keys that share up to 255 leading bits.

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;
use proptest::sample::Index;
use tally_ledger::tree::{MemTree, Node, NodeKey, Update, apply_updates};
use tally_types::{Domain, Hash};

/// The root computed straight from the definition, over the whole set.
fn reference_root(entries: &BTreeMap<Hash, Hash>) -> Hash {
    tally_types::smt::root_of_entries(entries)
}

fn value(tag: u8) -> Hash {
    Domain::StateValue.hash(&[&[tag]])
}

/// Random keys, and keys from a few clusters: the first byte is 0..4 (so they split near the
/// root), the middle is all zeros or all ones, and only the last byte varies (so the leaves of
/// one cluster sit 248 to 256 levels deep).
fn key_strategy() -> impl Strategy<Value = Hash> {
    prop_oneof![
        any::<[u8; 32]>().prop_map(Hash),
        (0u8..4, any::<bool>(), any::<u8>()).prop_map(|(head, ones, tail)| {
            let mut bytes = [if ones { 0xff } else { 0 }; 32];
            bytes[0] = head;
            bytes[31] = tail;
            Hash(bytes)
        }),
    ]
}

/// Batches of (key pick, value tag) updates; a tag of `None` deletes.
type Batches = Vec<Vec<(Index, Option<u8>)>>;

/// A pool of keys, and batches of updates that pick keys from the pool (so that deletes and
/// overwrites hit present keys).
fn scenario() -> impl Strategy<Value = (Vec<Hash>, Batches)> {
    (
        proptest::collection::vec(key_strategy(), 1..64),
        proptest::collection::vec(
            proptest::collection::vec((any::<Index>(), proptest::option::weighted(0.7, 0u8..3)), 0..40),
            1..8,
        ),
    )
}

fn nodes(tree: &MemTree) -> HashMap<NodeKey, Node> {
    tree.store().iter().map(|(position, node)| (*position, *node)).collect()
}

proptest! {
    #[test]
    fn tree_matches_the_reference((pool, batches) in scenario()) {
        let mut tree = MemTree::new();
        let mut model: BTreeMap<Hash, Hash> = BTreeMap::new();
        for batch in batches {
            // The last update of a key in the batch wins, as in the ledger's write set.
            let updates: BTreeMap<Hash, Option<Hash>> =
                batch.iter().map(|(index, tag)| (*index.get(&pool), tag.map(value))).collect();
            let updates: Vec<Update> = updates.into_iter().collect();

            let computed = apply_updates(tree.store(), &updates).expect("sorted, distinct updates");
            let mut written = HashSet::new();
            for position in computed.puts.iter().map(|(position, _)| position).chain(&computed.deletes) {
                prop_assert!(written.insert(*position), "{} written twice", position);
            }

            let root = tree.apply(&updates).expect("sorted, distinct updates");
            for (key, update) in &updates {
                match update {
                    Some(value_hash) => model.insert(*key, *value_hash),
                    None => model.remove(key),
                };
            }
            prop_assert_eq!(root, computed.root);
            prop_assert_eq!(root, reference_root(&model));
            prop_assert_eq!(tree.len(), model.len());
            for key in &pool {
                let expected = model.get(key);
                let got = tree.get(key);
                prop_assert_eq!(got.as_ref(), expected);
                let proof = tree.prove(key).expect("a MemTree proves any key");
                prop_assert_eq!(proof.verify(&root, key, expected), Ok(()));
            }
        }
        // However it got there, the store holds exactly the nodes of a tree built in one batch.
        let mut fresh = MemTree::new();
        let all: Vec<Update> = model.iter().map(|(k, v)| (*k, Some(*v))).collect();
        fresh.apply(&all).expect("sorted, distinct updates");
        prop_assert_eq!(fresh.root(), tree.root());
        prop_assert!(nodes(&fresh) == nodes(&tree), "store differs from a tree built in one batch");
    }

    #[test]
    fn a_proof_proves_nothing_about_other_keys_or_values(
        (pool, batches) in scenario(),
        probe in key_strategy(),
        wrong_tag in 3u8..6,
    ) {
        let mut tree = MemTree::new();
        let mut model: BTreeMap<Hash, Hash> = BTreeMap::new();
        for batch in batches {
            for (index, tag) in batch {
                if let Some(tag) = tag {
                    model.insert(*index.get(&pool), value(tag));
                }
            }
        }
        let all: Vec<Update> = model.iter().map(|(k, v)| (*k, Some(*v))).collect();
        let root = tree.apply(&all).expect("sorted, distinct updates");
        let proof = tree.prove(&probe).expect("a MemTree proves any key");
        let truth = model.get(&probe);
        prop_assert_eq!(proof.verify(&root, &probe, truth), Ok(()));
        // The opposite claim and a wrong value fail.
        let wrong = value(wrong_tag);
        match truth {
            Some(_) => {
                prop_assert!(proof.verify(&root, &probe, None).is_err());
                prop_assert!(proof.verify(&root, &probe, Some(&wrong)).is_err());
            }
            None => prop_assert!(proof.verify(&root, &probe, Some(&wrong)).is_err()),
        }
        // A proof for one key is no proof for another key that is present, except where the
        // probe is absent beside that key's leaf: then it is exactly that key's own proof.
        for (other, other_value) in &model {
            if *other == probe {
                continue;
            }
            if proof.leaf.is_some_and(|leaf| leaf.key == *other) {
                prop_assert_eq!(&proof, &tree.prove(other).expect("a MemTree proves any key"));
            } else {
                prop_assert!(proof.verify(&root, other, Some(other_value)).is_err());
            }
        }
    }
}
