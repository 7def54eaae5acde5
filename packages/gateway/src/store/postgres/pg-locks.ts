// Advisory locks (per database) in the two-key form: (namespace, lock). The namespace keeps clear of
// any other application's advisory locks on the same database.

/** "og" in ASCII, and a little more. */
export const LOCK_NAMESPACE = 0x6f67_0001;
/** Held by the one gateway that runs the cluster's background work. */
export const LEADER_LOCK = 1;
/** Held (shared) by every running gateway: whether peers are alive is a look at who holds it. */
export const ALIVE_LOCK = 2;
/** Held while migrations run, so gateways starting together do not race. */
export const MIGRATION_LOCK = 3;
