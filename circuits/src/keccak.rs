//! keccak256 in the circuit, single phase, built from halo2-base's flex gate, its range lookups
//! and the dynamic `(key, value)` tables of [`crate::builder`].
//!
//! The batch circuit exposes `touched_hash = keccak256(packed touched list)` as two 128-bit limbs
//! ([`keccak256_var`]). zkevm-hashes' keccak cannot be used: its only release pins
//! `halo2-base = "=0.5.0"`, which has no `cuda` feature, so it cannot share a build with the
//! halo2-base 0.5.5 the CUDA prover needs. This chip is our own and uses no challenge, no second
//! phase and no RLC, as the CUDA prover requires.
//!
//! # Representation
//! A 64-bit lane is kept in *sparse* form: bit `i` is the base-6 digit `i` of a field element,
//! `Σ b_i · 6^i < 6^64 < 2^166`. Sums of sparse lanes add digit-wise without carries as long as
//! every digit stays below 6, so XORs of several lanes are field additions followed by one
//! normalisation (digit parity) through a table. Between steps a lane lives as 13 *chunks* on a
//! fixed grid: twelve chunks of five digits (`[5j, 5j + 5)`) and one of four (`[60, 64)`); each
//! chunk is one table output. One round:
//!
//! - θ: `C[x]` chunk `j` = `Σ_y A[x][y]_j` (digits ≤ 5), normalised by the parity table; the
//!   top bit of `C[x]` comes from a second lookup on the same key, so
//!   `rot1(C') = 6·C' − (6^64 − 1)·top` is linear; `D[x] = C'[x−1] + rot1(C'[x+1])`.
//! - ρ and π: `A'[x][y] = A[x][y] + D[x]` (digits ≤ 4) is split into parts whose images under
//!   the rotation are the chunks of the grid (13 or 14 parts: the chunk that straddles the
//!   rotation point is split in two). The parts are witnesses, range-checked by halo2-base's
//!   range lookup (so their key lies in this table's tag) and looked up in the parity table of
//!   their length, which bounds every part below `6^len`; the part that ends at digit 64 is not
//!   a witness but the output of the linear constraint, so the split is unique. Each lookup
//!   returns the normalised part; the rotation is only a change of coefficients.
//! - χ: per chunk, `3·(1…1) − 2a + b − c` (digits 0‥4, with `a, b, c` the chunks of
//!   `B[x], B[x+1], B[x+2]`) is looked up in the χ table (`[0, 1, 1, 0, 0]` per digit). Its key
//!   is a combination of table outputs, so it needs no range check.
//! - ι: the round constant of round `i` is folded into round `i + 1` as constants: into
//!   `A'[0][0]`, `D[1]` (`C[0]` carries it) and `D[4]` (rotated), where the digit bounds above
//!   still hold; the constant of the last round is applied with parity lookups on the chunks of
//!   lane 0 where it has bits.
//!
//! Table outputs carry constant biases chosen so that the χ keys and θ sums need no constant
//! cell in the flex gate. Absorption splits each 64-bit message lane (eight sparse bytes) into
//! grid chunks and normalises `state chunk + message chunk` with the parity table.
//!
//! # Tables
//! Keys are `table_key(tag, index)` ([`crate::builder::table_key`]), tags from
//! [`KECCAK_TAG_BASE`]: parity of 1 to 5 digits ([`parity_tag`], `6 + 36 + 216 + 1,296 + 7,776`
//! rows), χ ([`CHI_TAG`], 7,776), the top bit of a four-digit chunk ([`TOP_BIT_TAG`], 1,296) and
//! byte → sparse byte ([`BYTE_TAG`], 256): [`TABLE_ROWS`] = 18,658 rows, loaded once per circuit
//! on the first call (they fit `k ≥ 15`). Soundness assumes no other code adds witness rows
//! (`TableLookups::add_row`) with keys in these tags.
//!
//! # Variable length
//! [`keccak256_var`] hashes `bytes[..len]` where `bytes.len()` is the fixed maximum `N` and
//! `len` a witness. It runs `N / 136 + 1` permutations whatever `len` is. A one-hot vector `e`
//! (`e_len = 1`) and its running complement `r_i = 1 − Σ_{k ≤ i} e_k` (`r_N = 0`) constrain
//! `len = Σ_{i<N} r_i ≤ N`; the padded byte `i` is `byte_i · r_i + e_i` (the `0x01`), plus
//! `0x80` in the last byte of the block holding position `len` (flag `r_{136b−1} − r_{136b+135}`),
//! so `0x81` when both fall in one byte. The digest is selected from that block's state. Every
//! input byte, also past `len`, is range-checked to 8 bits through the byte table.
//!
//! # Cost (measured by `tests/keccak_chip.rs`, lookup_bits ≥ 13)
//! Per keccak-f, with the absorption of its block (two-block minus one-block message): 175,802
//! flex-gate advice cells, 8,589 range-lookup cells and 18,073 table lookups (36,146 cells
//! copied into the lookup columns), **220,537 advice cells in all**. One round: θ 1,106 cells,
//! ρ 3,401, χ 2,647, 738 table lookups and about 340 range checks. The variable-length padding
//! adds about 16 cells per byte of maximum length; the tables cost 4 advice cells per row
//! (18,658 rows) once per circuit. A one-block hash fits MockProver at `k = 17`.
//!
//! That is seven times the ~30,000 cells per keccak-f of a dedicated gate, and the flex gate
//! cannot close the gap: every term of a linear combination costs three cells (`a + b·c = d`,
//! the coefficient in a cell of its own), a round needs about 2,100 terms, and each witness part
//! of ρ also needs a range-check cell and a 4-cell key (`part + tag offset`).
//!
//! # A dedicated gate (not built: it belongs in the circuit builder)
//! The same representation in a region of its own, beside the flex gate as the Poseidon gate
//! is: `W` advice columns, the parity (one per part length), χ and byte tables in fixed table
//! columns (halo2 `lookup`, not the dynamic argument: no tag offsets, no foreign rows, so no
//! range checks), and each linear relation of a round (θ sums, `D`, a ρ split with its
//! rotation, a χ combination) a custom constraint over the cells of the round's rows, so linear
//! terms cost nothing; lookup inputs may be expressions, so θ and χ keys need no cells. A round
//! is then about 70 θ outputs, 2 × 340 ρ cells (part, output) and 325 χ outputs, ≈ 1,100 cells,
//! ≈ 26,000 per keccak-f; inputs and digest link to the flex gate through the copy manager. Few
//! tall columns (e.g. `W = 8`, ~140 rows per round) keep the EVM verifier small.

use std::collections::HashSet;

use halo2_base::{
    gates::{GateInstructions, RangeChip, RangeInstructions},
    halo2_proofs::halo2curves::{bn256::Fr, ff::Field, ff::PrimeField},
    utils::ScalarField,
    AssignedValue, Context,
    QuantumCell::{self, Constant, Existing, Witness},
};

use crate::builder::{table_key, TableLookups};

/// Bytes absorbed per keccak-f (the rate of keccak256).
pub const RATE_BYTES: usize = 136;
/// First table tag of this chip; the tags in use are `KECCAK_TAG_BASE + 1 ..= + 8`.
pub const KECCAK_TAG_BASE: u64 = 0x6b65_6300; // "kec\0"
/// Tag of the χ table.
pub const CHI_TAG: u64 = KECCAK_TAG_BASE + 6;
/// Tag of the table giving the parity of digit 3 of a four-digit chunk.
pub const TOP_BIT_TAG: u64 = KECCAK_TAG_BASE + 7;
/// Tag of the byte → sparse byte table.
pub const BYTE_TAG: u64 = KECCAK_TAG_BASE + 8;
/// Rows of all keccak tables together.
pub const TABLE_ROWS: usize = 6 + 36 + 216 + 1_296 + 7_776 + 7_776 + 1_296 + 256;

/// Tag of the parity table of `len`-digit chunks (`1 ≤ len ≤ 5`): `KECCAK_TAG_BASE + len`.
pub const fn parity_tag(len: usize) -> u64 {
    KECCAK_TAG_BASE + len as u64
}

/// keccak-f permutations run for a message of at most `max_len` bytes.
pub const fn permutations(max_len: usize) -> usize {
    max_len / RATE_BYTES + 1
}

/// The two 128-bit limbs `[hi, lo]` of a digest: `hi` = bytes 0..16 as a big-endian integer,
/// `lo` = bytes 16..32.
pub fn digest_limbs(digest: &[u8; 32]) -> [Fr; 2] {
    let mut hi = [0u8; 16];
    let mut lo = [0u8; 16];
    hi.copy_from_slice(&digest[..16]);
    lo.copy_from_slice(&digest[16..]);
    [Fr::from_u128(u128::from_be_bytes(hi)), Fr::from_u128(u128::from_be_bytes(lo))]
}

/// Loads the keccak tables into `tables` (idempotent; the hashing functions call it).
pub fn load_tables(ctx: &mut Context<Fr>, tables: &mut TableLookups) {
    let k = Constants::new();
    for table in Table::ALL {
        let values = (0..table.size()).map(|i| table.value(&k, i));
        tables.load_table(ctx, table.tag(), values);
    }
}

/// `keccak256(bytes[..len])` as `[hi, lo]` 128-bit limbs (see [`digest_limbs`]).
///
/// `bytes.len()` is the circuit's maximum; `len` is a witness, constrained to `0 ≤ len ≤
/// bytes.len()`. Every byte is range-checked to 8 bits, those past `len` too (their values do not
/// change the digest). Runs [`permutations`]`(bytes.len())` keccak-f.
pub fn keccak256_var(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    tables: &mut TableLookups,
    bytes: &[AssignedValue<Fr>],
    len: AssignedValue<Fr>,
) -> [AssignedValue<Fr>; 2] {
    load_tables(ctx, tables);
    Sponge::new(ctx, range, tables).hash_var(bytes, len)
}

/// `keccak256(bytes)` for a length fixed by the circuit shape, as `[hi, lo]` limbs. Every byte is
/// range-checked to 8 bits.
pub fn keccak256_fixed(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    tables: &mut TableLookups,
    bytes: &[AssignedValue<Fr>],
) -> [AssignedValue<Fr>; 2] {
    load_tables(ctx, tables);
    Sponge::new(ctx, range, tables).hash_fixed(bytes)
}

// ------------------------------------------------------------------------------------------
// Constants of keccak and of the representation.

const RATE_LANES: usize = RATE_BYTES / 8;
const ROUNDS: usize = 24;
/// Digits per lookup.
const CHUNK: usize = 5;
/// Chunks per lane on the grid.
const CHUNKS: usize = 13;
/// Digits extracted from a witness value (a few beyond 64 so a bad witness does not panic).
const DIGITS: usize = 72;

/// Width of grid chunk `j`.
const fn chunk_width(j: usize) -> usize {
    if j + 1 < CHUNKS {
        CHUNK
    } else {
        64 - CHUNK * (CHUNKS - 1)
    }
}

/// `Σ_{i<digits} 6^i` as an integer.
const fn ones(digits: usize) -> u64 {
    let mut sum = 0;
    let mut power = 1;
    let mut i = 0;
    while i < digits {
        sum += power;
        power *= 6;
        i += 1;
    }
    sum
}

/// The base-6 digits of `index` (`n` of them).
fn digits_of(mut index: u64, n: usize) -> impl Iterator<Item = u64> {
    (0..n).map(move |_| {
        let d = index % 6;
        index /= 6;
        d
    })
}

/// `Σ f(d_i) · 6^i` over the `n` base-6 digits `d_i` of `index`.
fn map_digits(index: u64, n: usize, f: impl Fn(u64) -> u64) -> u64 {
    digits_of(index, n).enumerate().map(|(i, d)| f(d) * 6u64.pow(i as u32)).sum()
}

/// The sparse form of the low `bits` bits of `x`, as an integer (`bits ≤ 24`).
fn sparse_small(x: u64, bits: usize) -> u64 {
    (0..bits).map(|i| ((x >> i) & 1) * 6u64.pow(i as u32)).sum()
}

/// χ of one digit `3 − 2a + b − c`.
const CHI: [u64; 6] = [0, 1, 1, 0, 0, 0];

/// The lookup tables of the chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    /// Digit parity of a chunk of `len` digits (digits 0‥5).
    Parity(usize),
    /// χ of each digit of a five-digit chunk.
    Chi,
    /// Parity of digit 3 of a four-digit chunk.
    TopBit,
    /// A byte to its sparse form.
    Byte,
}

impl Table {
    const ALL: [Table; 8] = [
        Table::Parity(1),
        Table::Parity(2),
        Table::Parity(3),
        Table::Parity(4),
        Table::Parity(5),
        Table::Chi,
        Table::TopBit,
        Table::Byte,
    ];

    fn tag(self) -> u64 {
        match self {
            Table::Parity(len) => parity_tag(len),
            Table::Chi => CHI_TAG,
            Table::TopBit => TOP_BIT_TAG,
            Table::Byte => BYTE_TAG,
        }
    }

    fn size(self) -> u64 {
        match self {
            Table::Parity(len) => 6u64.pow(len as u32),
            Table::Chi => 6u64.pow(CHUNK as u32),
            Table::TopBit => 6u64.pow(4),
            Table::Byte => 256,
        }
    }

    /// The table's function on `index < size`, before the bias.
    fn native(self, index: u64) -> u64 {
        match self {
            Table::Parity(len) => map_digits(index, len, |d| d & 1),
            Table::Chi => map_digits(index, CHUNK, |d| CHI[d as usize]),
            Table::TopBit => (index / 216) & 1,
            Table::Byte => sparse_small(index, 8),
        }
    }

    /// The constant added to every value of the table.
    fn bias(self, k: &Constants) -> Fr {
        match self {
            Table::Parity(_) => k.beta_parity,
            Table::Chi => k.beta_chi,
            Table::TopBit | Table::Byte => Fr::ZERO,
        }
    }

    /// Row `index`'s value (`index < size`).
    fn value(self, k: &Constants, index: u64) -> Fr {
        Fr::from(self.native(index)) + self.bias(k)
    }

    /// The key of row 0.
    fn offset(self) -> Fr {
        table_key(self.tag(), 0)
    }
}

/// One part of a lane split for ρ: source digits `[src, src + len)` become digits
/// `[offset, offset + len)` of target chunk `chunk` after the rotation.
#[derive(Clone, Copy, Debug)]
struct Part {
    src: usize,
    len: usize,
    chunk: usize,
    offset: usize,
}

/// The parts of a lane rotated left by `r`, sorted by source position (the last ends at 64).
fn rho_parts(r: usize) -> Vec<Part> {
    let mut parts = Vec::with_capacity(CHUNKS + 1);
    for chunk in 0..CHUNKS {
        let width = chunk_width(chunk);
        let src = (CHUNK * chunk + 64 - r) % 64;
        if src + width <= 64 {
            parts.push(Part { src, len: width, chunk, offset: 0 });
        } else {
            let low = 64 - src;
            parts.push(Part { src, len: low, chunk, offset: 0 });
            parts.push(Part { src: 0, len: width - low, chunk, offset: low });
        }
    }
    parts.sort_by_key(|p| p.src);
    parts
}

/// keccak-f's round constants, from the LFSR of FIPS 202 (algorithm 5).
fn round_constants() -> [u64; ROUNDS] {
    let mut lfsr: u16 = 1;
    let mut bit = move || {
        let out = lfsr & 1;
        lfsr <<= 1;
        if lfsr & 0x100 != 0 {
            lfsr ^= 0x171;
        }
        out as u64
    };
    let mut rc = [0u64; ROUNDS];
    for constant in rc.iter_mut() {
        for j in 0..7 {
            *constant |= bit() << ((1 << j) - 1);
        }
    }
    rc
}

/// ρ's rotation offsets `rot[x][y]`.
fn rotation_offsets() -> [[usize; 5]; 5] {
    let mut rot = [[0; 5]; 5];
    let (mut x, mut y) = (1, 0);
    for t in 0..24 {
        rot[x][y] = ((t + 1) * (t + 2) / 2) % 64;
        (x, y) = (y, (2 * x + 3 * y) % 5);
    }
    rot
}

/// Everything the chip derives once.
#[derive(Debug)]
struct Constants {
    /// `6^i` for `i ≤ DIGITS`.
    pow6: Vec<Fr>,
    rc: [u64; ROUNDS],
    /// ρ's parts by lane `x + 5y`.
    parts: Vec<Vec<Part>>,
    /// Bias of the parity tables: makes the χ key `b − 2a − c + 3·ones + offset` constant-free.
    beta_parity: Fr,
    /// Bias of the χ table: makes the θ sum of five χ outputs plus the parity offset
    /// constant-free.
    beta_chi: Fr,
}

impl Constants {
    fn new() -> Self {
        let mut pow6 = Vec::with_capacity(DIGITS + 1);
        let mut p = Fr::ONE;
        for _ in 0..=DIGITS {
            pow6.push(p);
            p *= Fr::from(6);
        }
        let inv = |x: u64| Fr::from(x).invert().expect("a small nonzero integer is invertible");
        let chi_constant = Fr::from(3 * ones(CHUNK)) + Table::Chi.offset();
        let rot = rotation_offsets();
        Self {
            pow6,
            rc: round_constants(),
            parts: (0..25).map(|l| rho_parts(rot[l % 5][l / 5])).collect(),
            beta_parity: -chi_constant * inv(2),
            beta_chi: Table::Parity(CHUNK).offset() * inv(5),
        }
    }

    /// The sparse form of a 64-bit word.
    fn sparse(&self, x: u64) -> Fr {
        (0..64).filter(|i| (x >> i) & 1 == 1).map(|i| self.pow6[i]).sum()
    }

    fn inv_pow6(&self, i: usize) -> Fr {
        self.pow6[i].invert().expect("6^i is invertible")
    }
}

/// The base-6 digits of a field element's canonical integer (little-endian, `DIGITS` of them).
fn base6_digits(value: &Fr) -> Vec<u8> {
    let bytes = value.to_bytes_le();
    let mut limbs = [0u64; 4];
    for (i, chunk) in bytes.chunks(8).take(4).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        limbs[i] = u64::from_le_bytes(word);
    }
    (0..DIGITS)
        .map(|_| {
            let mut rem: u128 = 0;
            for limb in limbs.iter_mut().rev() {
                let cur = (rem << 64) | u128::from(*limb);
                *limb = (cur / 6) as u64;
                rem = cur % 6;
            }
            rem as u8
        })
        .collect()
}

/// `Σ_{i<len} d[src + i] · 6^i`.
fn chunk_value(digits: &[u8], src: usize, len: usize) -> Fr {
    Fr::from((0..len).rev().fold(0u64, |acc, i| acc * 6 + u64::from(digits[src + i])))
}

/// A field element as a table index, or `None` when it is not below `size`.
fn as_index(value: &Fr, size: u64) -> Option<u64> {
    let low = value.get_lower_64();
    (Fr::from(low) == *value && low < size).then_some(low)
}

// ------------------------------------------------------------------------------------------
// Linear combinations over cells and pending lookup outputs.

/// A term of a linear combination: an assigned cell, or a table output not assigned yet (it is
/// placed, and its lookup recorded, where it is first used).
#[derive(Clone, Copy, Debug)]
enum Term {
    Cell(AssignedValue<Fr>),
    Fresh(usize),
}

/// `Σ coefficient · term + constant`.
#[derive(Clone, Debug, Default)]
struct Lin {
    terms: Vec<(Term, Fr)>,
    constant: Fr,
}

impl Lin {
    fn constant(constant: Fr) -> Self {
        Self { terms: Vec::new(), constant }
    }

    fn term(term: Term) -> Self {
        Self { terms: vec![(term, Fr::ONE)], constant: Fr::ZERO }
    }

    fn cell(cell: AssignedValue<Fr>) -> Self {
        Self::term(Term::Cell(cell))
    }

    /// `self + coefficient · other`.
    fn plus(mut self, other: &Lin, coefficient: Fr) -> Self {
        self.terms.extend(other.terms.iter().map(|(t, c)| (*t, *c * coefficient)));
        self.constant += other.constant * coefficient;
        self
    }

    fn plus_constant(mut self, constant: Fr) -> Self {
        self.constant += constant;
        self
    }

    fn scaled(&self, factor: Fr) -> Self {
        Lin::default().plus(self, factor)
    }
}

/// What a cell of a chain holds.
#[derive(Clone, Copy, Debug)]
enum Item {
    Term(Term),
    New(Fr),
    Const(Fr),
}

/// A table output waiting for its cell.
#[derive(Clone, Copy, Debug)]
struct Fresh {
    key: AssignedValue<Fr>,
    value: Fr,
    cell: Option<AssignedValue<Fr>>,
}

/// A 64-bit lane as its 13 grid chunks.
type Lane = Vec<Lin>;

/// The chip's working state for one hash.
struct Sponge<'a> {
    ctx: &'a mut Context<Fr>,
    range: &'a RangeChip<Fr>,
    tables: &'a mut TableLookups,
    k: Constants,
    fresh: Vec<Fresh>,
    /// Range-check width that puts a witness key inside its table's tag.
    key_bits: usize,
}

impl<'a> Sponge<'a> {
    fn new(
        ctx: &'a mut Context<Fr>,
        range: &'a RangeChip<Fr>,
        tables: &'a mut TableLookups,
    ) -> Self {
        // Honest parts are below 6^5 < 2^13; a bound of at most 2^30 keeps `key + small` inside
        // one tag (2^32 indices).
        let key_bits = range.lookup_bits().clamp(13, 30);
        Self { ctx, range, tables, k: Constants::new(), fresh: Vec::new(), key_bits }
    }

    fn term_value(&self, term: Term) -> Fr {
        match term {
            Term::Cell(cell) => *cell.value(),
            Term::Fresh(id) => self.fresh[id].value,
        }
    }

    fn value(&self, lin: &Lin) -> Fr {
        lin.terms.iter().map(|(t, c)| self.term_value(*t) * c).sum::<Fr>() + lin.constant
    }

    fn item_value(&self, item: Item) -> Fr {
        match item {
            Item::Term(t) => self.term_value(t),
            Item::New(v) | Item::Const(v) => v,
        }
    }

    fn quantum(&self, item: Item) -> QuantumCell<Fr> {
        match item {
            Item::Term(Term::Cell(cell)) => Existing(cell),
            Item::Term(Term::Fresh(id)) => match self.fresh[id].cell {
                Some(cell) => Existing(cell),
                None => Witness(self.fresh[id].value),
            },
            Item::New(v) => Witness(v),
            Item::Const(c) => Constant(c),
        }
    }

    /// The cell of a table output, assigning it (and recording its lookup) if needed.
    fn fresh_cell(&mut self, id: usize) -> AssignedValue<Fr> {
        if let Some(cell) = self.fresh[id].cell {
            return cell;
        }
        let cell = self.ctx.load_witness(self.fresh[id].value);
        self.record(id, cell);
        cell
    }

    fn record(&mut self, id: usize, cell: AssignedValue<Fr>) {
        self.fresh[id].cell = Some(cell);
        self.tables.lookup(self.fresh[id].key, cell);
    }

    /// Assigns the chain `start + Σ coefficient · item` (three cells per item, one gate each)
    /// and returns the result and the cells of the items.
    fn chain(
        &mut self,
        start: Item,
        items: &[(Item, Fr)],
    ) -> (AssignedValue<Fr>, Vec<AssignedValue<Fr>>) {
        // A table output used twice in one chain gets its cell first.
        let mut seen = HashSet::new();
        for item in std::iter::once(&start).chain(items.iter().map(|(i, _)| i)) {
            if let Item::Term(Term::Fresh(id)) = item {
                if self.fresh[*id].cell.is_none() && !seen.insert(*id) {
                    self.fresh_cell(*id);
                }
            }
        }
        let base = self.ctx.advice.len();
        let mut acc = self.item_value(start);
        let mut cells = Vec::with_capacity(1 + 3 * items.len());
        cells.push(self.quantum(start));
        for (item, coefficient) in items {
            acc += self.item_value(*item) * coefficient;
            cells.push(self.quantum(*item));
            cells.push(Constant(*coefficient));
            cells.push(Witness(acc));
        }
        self.ctx.assign_region(cells, (0..items.len()).map(|i| 3 * i as isize));
        let start_cell = self.ctx.get(base as isize);
        let item_cells: Vec<AssignedValue<Fr>> =
            (0..items.len()).map(|i| self.ctx.get((base + 1 + 3 * i) as isize)).collect();
        let all = std::iter::once((start, start_cell))
            .chain(items.iter().map(|(i, _)| *i).zip(item_cells.iter().copied()));
        let pending: Vec<(usize, AssignedValue<Fr>)> = all
            .filter_map(|(item, cell)| match item {
                Item::Term(Term::Fresh(id)) => Some((id, cell)),
                _ => None,
            })
            .collect();
        for (id, cell) in pending {
            if self.fresh[id].cell.is_none() {
                self.record(id, cell);
            }
        }
        (self.ctx.get(-1), item_cells)
    }

    /// Assigns `lin + Σ coefficient · new` where the `new` values are fresh witnesses; returns
    /// the result and the cells of the new witnesses.
    fn assign_with(
        &mut self,
        lin: &Lin,
        new: &[(Fr, Fr)],
    ) -> (AssignedValue<Fr>, Vec<AssignedValue<Fr>>) {
        let mut items: Vec<(Item, Fr)> =
            lin.terms.iter().map(|(t, c)| (Item::Term(*t), *c)).collect();
        let first_new = items.len();
        items.extend(new.iter().map(|(v, c)| (Item::New(*v), *c)));
        let mut start = Item::Const(lin.constant);
        let mut moved = None;
        if lin.constant == Fr::ZERO {
            if let Some(i) = items.iter().position(|(_, c)| *c == Fr::ONE) {
                start = items.remove(i).0;
                moved = Some(i);
            }
        }
        if items.is_empty() {
            // A single term with coefficient one.
            let cell = match start {
                Item::Term(Term::Cell(cell)) => cell,
                Item::Term(Term::Fresh(id)) => self.fresh_cell(id),
                Item::New(v) => self.ctx.load_witness(v),
                Item::Const(c) => self.ctx.load_constant(c),
            };
            return (cell, if new.is_empty() { vec![] } else { vec![cell] });
        }
        let (out, cells) = self.chain(start, &items);
        // Cells of the new witnesses, in their original order.
        let start_cell = self.ctx.get(-(3 * items.len() as isize) - 1);
        let mut new_cells = Vec::with_capacity(new.len());
        for i in first_new..first_new + new.len() {
            let cell = match moved {
                Some(m) if m == i => start_cell,
                Some(m) if m < i => cells[i - 1],
                _ => cells[i],
            };
            new_cells.push(cell);
        }
        (out, new_cells)
    }

    fn assign(&mut self, lin: &Lin) -> AssignedValue<Fr> {
        self.assign_with(lin, &[]).0
    }

    /// Looks `input` up in `table` (key `input + offset`, assigned here); returns the key cell
    /// and the output as the table's true value (the bias removed).
    fn lookup(&mut self, table: Table, input: &Lin) -> (AssignedValue<Fr>, Lin) {
        let index = as_index(&self.value(input), table.size());
        let key = self.assign(&input.clone().plus_constant(table.offset()));
        // A bad witness gets an arbitrary output; its key is not in the table.
        let value = table.value(&self.k, index.unwrap_or(0));
        self.fresh.push(Fresh { key, value, cell: None });
        let out = Lin::term(Term::Fresh(self.fresh.len() - 1)).plus_constant(-table.bias(&self.k));
        (key, out)
    }

    /// Looks up a witness: range-checks it so its key stays in `table`'s tag, then looks it up.
    fn lookup_witness(&mut self, table: Table, witness: AssignedValue<Fr>) -> Lin {
        self.range.range_check(self.ctx, witness, self.key_bits);
        self.lookup(table, &Lin::cell(witness)).1
    }

    // --------------------------------------------------------------------------------------
    // The permutation.

    /// `Σ_j 6^{5j} · chunk_j`.
    fn lane_lin(&self, lane: &[Lin]) -> Lin {
        lane.iter()
            .enumerate()
            .fold(Lin::default(), |acc, (j, chunk)| acc.plus(chunk, self.k.pow6[CHUNK * j]))
    }

    /// One round; `pending_rc` is the previous round's ι constant, folded in here. Returns the
    /// first `lanes` lanes (all 25, or 4 for the digest after the last block, which skips the ρ
    /// and χ work nothing reads).
    fn round(&mut self, a: &[Lane], pending_rc: Option<u64>, lanes: usize) -> Vec<Lane> {
        let pow6 = self.k.pow6.clone();
        // θ: C' and its top bits.
        let mut c_full = Vec::with_capacity(5);
        let mut top = Vec::with_capacity(5);
        for x in 0..5 {
            let mut lane = Lin::default();
            for j in 0..CHUNKS {
                let sum = (0..5).fold(Lin::default(), |acc, y| acc.plus(&a[x + 5 * y][j], Fr::ONE));
                let (key, out) = self.lookup(Table::Parity(CHUNK), &sum);
                lane = lane.plus(&out, pow6[CHUNK * j]);
                if j == CHUNKS - 1 {
                    let input = Lin::cell(key).plus_constant(-Table::Parity(CHUNK).offset());
                    top.push(self.lookup(Table::TopBit, &input).1);
                }
            }
            c_full.push(self.assign(&lane));
        }
        // θ: D[x] = C'[x-1] + rot1(C'[x+1]), with ι of the previous round.
        let mut d = Vec::with_capacity(5);
        for x in 0..5 {
            let mut lin = Lin::cell(c_full[(x + 4) % 5])
                .plus(&Lin::cell(c_full[(x + 1) % 5]), pow6[1])
                .plus(&top[(x + 1) % 5], Fr::ONE - pow6[64]);
            if let Some(rc) = pending_rc {
                if x == 1 {
                    lin = lin.plus_constant(self.k.sparse(rc));
                }
                if x == 4 {
                    lin = lin.plus_constant(self.k.sparse(rc.rotate_left(1)));
                }
            }
            d.push(self.assign(&lin));
        }
        // ρ and π: B[y][2x + 3y] = rot(A[x][y] + D[x], rot[x][y]).
        let mut b: Vec<Lane> = vec![Vec::new(); 25];
        for y in 0..5 {
            for x in 0..5 {
                let target = y + 5 * ((2 * x + 3 * y) % 5);
                if lanes <= 5 && target >= 5 {
                    continue;
                }
                let mut lin = self.lane_lin(&a[x + 5 * y]).plus(&Lin::cell(d[x]), Fr::ONE);
                if let (0, 0, Some(rc)) = (x, y, pending_rc) {
                    lin = lin.plus_constant(self.k.sparse(rc));
                }
                b[target] = self.rho(&lin, x + 5 * y);
            }
        }
        // χ.
        (0..lanes)
            .map(|l| {
                let (x, y) = (l % 5, l / 5);
                (0..CHUNKS)
                    .map(|j| {
                        let three = Fr::from(3 * ones(chunk_width(j)));
                        let input = b[(x + 1) % 5 + 5 * y][j]
                            .clone()
                            .plus(&b[x + 5 * y][j], -Fr::from(2))
                            .plus(&b[(x + 2) % 5 + 5 * y][j], -Fr::ONE)
                            .plus_constant(three);
                        self.lookup(Table::Chi, &input).1
                    })
                    .collect()
            })
            .collect()
    }

    /// Splits `a_prime` (the lane `l` after θ) into the parts of its rotation, normalises them
    /// and returns the rotated lane's chunks.
    fn rho(&mut self, a_prime: &Lin, l: usize) -> Lane {
        let parts = self.k.parts[l].clone();
        let digits = base6_digits(&self.value(a_prime));
        let (top, rest) = parts.split_last().expect("a lane has parts");
        // top = (a' − Σ_rest 6^src · part) / 6^top.src: the last part is the chain's output.
        let inv = self.k.inv_pow6(top.src);
        let new: Vec<(Fr, Fr)> = rest
            .iter()
            .map(|p| (chunk_value(&digits, p.src, p.len), -self.k.pow6[p.src] * inv))
            .collect();
        let (top_cell, cells) = self.assign_with(&a_prime.scaled(inv), &new);
        let mut lane = vec![Lin::default(); CHUNKS];
        for (part, cell) in parts.iter().zip(cells.into_iter().chain([top_cell])) {
            let out = self.lookup_witness(Table::Parity(part.len), cell);
            lane[part.chunk] = lane[part.chunk].clone().plus(&out, self.k.pow6[part.offset]);
        }
        lane
    }

    /// keccak-f on a state of grid chunks (all digits 0 or 1); returns the first `lanes` lanes.
    fn permute(&mut self, state: Vec<Lane>, lanes: usize) -> Vec<Lane> {
        let mut a = state;
        for i in 0..ROUNDS {
            let pending = (i > 0).then(|| self.k.rc[i - 1]);
            a = self.round(&a, pending, if i + 1 == ROUNDS { lanes } else { 25 });
        }
        // ι of the last round on the chunks of lane 0 where its constant has bits.
        let rc = self.k.rc[ROUNDS - 1];
        for j in 0..CHUNKS {
            let bits = (rc >> (CHUNK * j)) & ((1 << chunk_width(j)) - 1);
            if bits != 0 {
                let input =
                    a[0][j].clone().plus_constant(Fr::from(sparse_small(bits, chunk_width(j))));
                a[0][j] = self.lookup(Table::Parity(CHUNK), &input).1;
            }
        }
        a
    }

    /// XORs the 17 message lanes (sparse, digits 0 or 1) into the state.
    fn absorb(&mut self, state: &mut [Lane], block: &[Lin]) {
        let top_src = CHUNK * (CHUNKS - 1);
        let inv = self.k.inv_pow6(top_src);
        for (l, message) in block.iter().enumerate() {
            let digits = base6_digits(&self.value(message));
            if message.terms.is_empty() {
                // A constant lane (padding): only the chunks with bits change.
                for j in 0..CHUNKS {
                    let chunk = chunk_value(&digits, CHUNK * j, chunk_width(j));
                    if chunk != Fr::ZERO {
                        let input = state[l][j].clone().plus_constant(chunk);
                        state[l][j] = self.lookup(Table::Parity(CHUNK), &input).1;
                    }
                }
                continue;
            }
            // The message lane's grid chunks; the top one is the chain's output.
            let new: Vec<(Fr, Fr)> = (0..CHUNKS - 1)
                .map(|j| (chunk_value(&digits, CHUNK * j, CHUNK), -self.k.pow6[CHUNK * j] * inv))
                .collect();
            let (top, mut cells) = self.assign_with(&message.scaled(inv), &new);
            cells.push(top);
            for (j, cell) in cells.into_iter().enumerate() {
                // Bounds the chunk so `state + chunk` is a key of this tag, and the lookup then
                // bounds it below 6^5: the split is unique.
                self.range.range_check(self.ctx, cell, self.key_bits);
                let input = state[l][j].clone().plus(&Lin::cell(cell), Fr::ONE);
                state[l][j] = self.lookup(Table::Parity(CHUNK), &input).1;
            }
        }
    }

    /// Absorbs every block and permutes; returns lanes 0..4 (the digest) after each block.
    fn sponge(&mut self, blocks: &[Vec<Lin>]) -> Vec<[AssignedValue<Fr>; 4]> {
        let mut state: Vec<Lane> = vec![vec![Lin::default(); CHUNKS]; 25];
        let mut outputs = Vec::with_capacity(blocks.len());
        for (i, block) in blocks.iter().enumerate() {
            self.absorb(&mut state, block);
            // After the last block only the digest lanes are read.
            state = self.permute(state, if i + 1 == blocks.len() { 4 } else { 25 });
            let lanes: Vec<AssignedValue<Fr>> =
                (0..4).map(|l| self.assign(&self.lane_lin(&state[l]))).collect();
            outputs.push(lanes.try_into().expect("four lanes"));
        }
        outputs
    }

    /// The 17 message lanes of each block from the padded sparse bytes `padded(i)`.
    fn blocks(&self, blocks: usize, padded: impl Fn(usize) -> Lin) -> Vec<Vec<Lin>> {
        (0..blocks)
            .map(|b| {
                (0..RATE_LANES)
                    .map(|l| {
                        (0..8).fold(Lin::default(), |acc, k| {
                            acc.plus(&padded(RATE_BYTES * b + 8 * l + k), self.k.pow6[8 * k])
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// The sparse form of every input byte, range-checked through the byte table.
    fn sparse_bytes(&mut self, bytes: &[AssignedValue<Fr>]) -> Vec<Lin> {
        bytes.iter().map(|b| self.lookup_witness(Table::Byte, *b)).collect()
    }

    fn hash_fixed(&mut self, bytes: &[AssignedValue<Fr>]) -> [AssignedValue<Fr>; 2] {
        let n = bytes.len();
        let sparse = self.sparse_bytes(bytes);
        let blocks = permutations(n);
        let mut lanes = self.blocks(blocks, |i| match i {
            _ if i < n => sparse[i].clone(),
            _ if i == n => Lin::constant(Fr::ONE),
            _ => Lin::default(),
        });
        // 0x80 in the last byte (bit 63 of lane 16).
        lanes[blocks - 1][RATE_LANES - 1] =
            lanes[blocks - 1][RATE_LANES - 1].clone().plus_constant(self.k.pow6[63]);
        let outputs = self.sponge(&lanes);
        self.squeeze(outputs[blocks - 1])
    }

    fn hash_var(
        &mut self,
        bytes: &[AssignedValue<Fr>],
        len: AssignedValue<Fr>,
    ) -> [AssignedValue<Fr>; 2] {
        let n = bytes.len();
        let range = self.range;
        let gate = range.gate();
        let sparse = self.sparse_bytes(bytes);
        let len_value = as_index(len.value(), n as u64 + 1);
        // e_i = [i == len], r_i = 1 − Σ_{k ≤ i} e_k for i ≤ n.
        let mut r = Vec::with_capacity(n + 1);
        let mut e = Vec::with_capacity(n + 1);
        let mut previous = Lin::constant(Fr::ONE);
        for i in 0..=n {
            let e_value = Fr::from(len_value == Some(i as u64));
            let (r_i, cells) = self.assign_with(&previous, &[(e_value, -Fr::ONE)]);
            gate.assert_bit(self.ctx, cells[0]);
            e.push(cells[0]);
            r.push(r_i);
            previous = Lin::cell(r_i);
        }
        // Exactly one e_i is set, so len = Σ_{i<n} r_i ∈ [0, n].
        gate.assert_is_const(self.ctx, &r[n], &Fr::ZERO);
        let count =
            r[..n].iter().fold(Lin::default(), |acc, r_i| acc.plus(&Lin::cell(*r_i), Fr::ONE));
        let count = self.assign(&count);
        self.ctx.constrain_equal(&count, &len);
        // Padded sparse bytes: byte_i · r_i + e_i.
        let padded: Vec<AssignedValue<Fr>> = (0..n)
            .map(|i| {
                let byte = match sparse[i].terms[0].0 {
                    Term::Fresh(id) => self.fresh_cell(id),
                    Term::Cell(cell) => cell,
                };
                gate.mul_add(self.ctx, byte, r[i], e[i])
            })
            .collect();
        let blocks = permutations(n);
        // The block holding position len: r_{136b − 1} − r_{136b + 135} (r_{−1} = 1).
        let r_at = |i: isize| -> Lin {
            if i < 0 {
                Lin::constant(Fr::ONE)
            } else {
                Lin::cell(r[(i as usize).min(n)])
            }
        };
        let flags: Vec<AssignedValue<Fr>> = (0..blocks)
            .map(|b| {
                let start = (RATE_BYTES * b) as isize;
                let lin = r_at(start - 1).plus(&r_at(start + RATE_BYTES as isize - 1), -Fr::ONE);
                self.assign(&lin)
            })
            .collect();
        let mut lanes = self.blocks(blocks, |i| match i {
            _ if i < n => Lin::cell(padded[i]),
            _ if i == n => Lin::cell(e[n]),
            _ => Lin::default(),
        });
        for (b, flag) in flags.iter().enumerate() {
            lanes[b][RATE_LANES - 1] =
                lanes[b][RATE_LANES - 1].clone().plus(&Lin::cell(*flag), self.k.pow6[63]);
        }
        let outputs = self.sponge(&lanes);
        let selected: Vec<AssignedValue<Fr>> = (0..4)
            .map(|l| {
                gate.inner_product(
                    self.ctx,
                    outputs.iter().map(|lanes| lanes[l]),
                    flags.iter().map(|f| Existing(*f)),
                )
            })
            .collect();
        self.squeeze(selected.try_into().expect("four lanes"))
    }

    /// The digest limbs of the four output lanes (sparse, digits 0 or 1).
    fn squeeze(&mut self, lanes: [AssignedValue<Fr>; 4]) -> [AssignedValue<Fr>; 2] {
        let mut limbs = Vec::with_capacity(2);
        for pair in lanes.chunks(2) {
            // Digest bytes 16h .. 16h + 16: lane 2h then lane 2h + 1, each little-endian.
            let mut new = Vec::with_capacity(16);
            for (i, lane) in pair.iter().enumerate() {
                let digits = base6_digits(lane.value());
                for k in 0..8 {
                    let byte: u64 =
                        (0..8).map(|bit| u64::from(digits[8 * k + bit] & 1) << bit).sum();
                    let position = 8 * i + k;
                    new.push((
                        Fr::from(byte),
                        Fr::from(2).pow_vartime([8 * (15 - position as u64)]),
                    ));
                }
            }
            let (limb, bytes) = self.assign_with(&Lin::default(), &new);
            for (i, lane) in pair.iter().enumerate() {
                let sparse: Vec<Lin> = bytes[8 * i..8 * i + 8]
                    .iter()
                    .map(|b| self.lookup_witness(Table::Byte, *b))
                    .collect();
                let recomposed = sparse
                    .iter()
                    .enumerate()
                    .fold(Lin::default(), |acc, (k, s)| acc.plus(s, self.k.pow6[8 * k]));
                let recomposed = self.assign(&recomposed);
                self.ctx.constrain_equal(&recomposed, lane);
            }
            limbs.push(limb);
        }
        [limbs[0], limbs[1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_constants_match_fips_202() {
        let rc = round_constants();
        assert_eq!(rc[0], 0x0000_0000_0000_0001);
        assert_eq!(rc[1], 0x0000_0000_0000_8082);
        assert_eq!(rc[2], 0x8000_0000_0000_808a);
        assert_eq!(rc[23], 0x8000_0000_8000_8008);
    }

    #[test]
    fn rotation_offsets_match_fips_202() {
        let rot = rotation_offsets();
        assert_eq!(rot[0], [0, 36, 3, 41, 18]);
        assert_eq!(rot[1], [1, 44, 10, 45, 2]);
        assert_eq!(rot[4], [27, 20, 39, 8, 14]);
    }

    #[test]
    fn rho_parts_cover_the_lane_once() {
        for r in 0..64 {
            let parts = rho_parts(r);
            let mut covered = [false; 64];
            for p in &parts {
                for i in p.src..p.src + p.len {
                    assert!(!covered[i], "rotation {r}");
                    covered[i] = true;
                    assert_eq!((i + r) % 64, CHUNK * p.chunk + p.offset + i - p.src);
                }
            }
            assert!(covered.iter().all(|c| *c));
            assert_eq!(parts.last().map(|p| p.src + p.len), Some(64));
        }
    }

    #[test]
    fn digits_round_trip() {
        let k = Constants::new();
        let word = 0xdead_beef_0123_4567u64;
        let digits = base6_digits(&k.sparse(word));
        for i in 0..64 {
            assert_eq!(u64::from(digits[i]), (word >> i) & 1);
        }
        assert!(digits[64..].iter().all(|d| *d == 0));
    }

    #[test]
    fn table_rows_add_up() {
        assert_eq!(Table::ALL.iter().map(|t| t.size() as usize).sum::<usize>(), TABLE_ROWS);
    }
}
