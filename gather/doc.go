// Package gather is the main job: it runs every registered collector for the right time window,
// stages what they emit, packs it into tarballs, hands the tarballs to a shipper and advances the
// bookkeeping over what was shipped. It is upstream's Collector.gather (upstream-behaviour.md 3),
// with the Decisions of design.md.
//
// The flow of [Gather]:
//
//  1. license gate, and for manual and scheduled runs the shipping check (D10);
//  2. the lock, so two gathers cannot overlap, then the bookkeeping is read; tarballs an
//     earlier run recorded as pending are re-sent first, byte for byte under the same name;
//  3. the window: explicit since/until, the last gather and each key's entry, clamped to the
//     max window (D7); a bad interval stops here, nothing written (D9);
//  4. config first, then JSON collectors, then CSV collectors, in declaration order (D1), each
//     sliced as its TOML says (D11), each slice one invocation through the [Executor];
//  5. output streams from the guest into staged files (CSV through a [packaging.Splitter]), which
//     the [packaging.Packer] places into tarballs; sliced collectors flush right away;
//  6. each tarball is kept (dry-run) or recorded as pending in OutDir/[PendingDir] and the
//     bookkeeping, then shipped; keys advance only over slices that were gathered and
//     acknowledged, in order (D3), and never start inside a pending tarball's slices; only
//     collector keys are written (D4). A save that fails stops shipping ([ErrStateNotSaved]).
//     A CSV collector with time_column has every row checked by a [SliceGuard].
//
// See README "Delivery" and RATIONALE.md "Why record a tarball as pending before sending it?".
//
// Gather is the only package that sees the whole flow: packaging, state and the shipper know
// nothing of wazero, and the runtime knows nothing of tarballs.
package gather
