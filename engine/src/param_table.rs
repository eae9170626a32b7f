//! Params declared once: a kind lists its params in one table (a typed id enum, each
//! variant with its name, unit, range, default, smoothing, choices and doc), and the
//! [`ParamSpec`] list, the mapping between the typed id and [`ParamId`], the smoothers and
//! the `lathe nodes` reference all come from that table.
//!
//! ```
//! use lathe_engine::{ParamDecl, ParamTable, Unit, params};
//!
//! params! {
//!     /// The params of a gain node.
//!     pub enum GainParam {
//!         GainDb = ParamDecl::new("gain_db", Unit::Db, -96.0, 24.0, 0.0).doc("Gain in dB."),
//!     }
//! }
//!
//! let specs = GainParam::specs();
//! assert_eq!(specs[0].name, "gain_db");
//! assert_eq!(GainParam::from_id(GainParam::GainDb.id()), Some(GainParam::GainDb));
//! ```
//!
//! Three shapes cover every kind:
//! - a fixed table ([`params!`] + [`ParamTable`]): the processor matches on
//!   `P::from_id(id)` in `set_param` and builds its smoothers with [`ParamTable::smoother`];
//! - a table repeated per band ([`ParamFamily`]): `band1.freq_hz`, `band2.freq_hz`, ...,
//!   decoded to a typed id plus a band index;
//! - params known only at build (a band whose params depend on its type, a script's own
//!   params): a [`ParamMap`] collects each spec with the typed key it routes to. A kind may
//!   still build [`ParamSpec`]s by hand; the engine only ever sees the list.

use crate::node::{DEFAULT_SMOOTHING_MS, ParamId, ParamSpec, Unit};
use crate::smooth::LinearSmoother;

/// One param as a `const`: everything a [`ParamSpec`] is made from. The builders mirror
/// [`ParamSpec`]'s so a table reads like the spec it produces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamDecl {
    /// Stable name, unique within the node, with the unit in it (`attack_ms`).
    pub name: &'static str,
    pub unit: Unit,
    pub min: f32,
    pub max: f32,
    pub default: f32,
    pub smoothing_ms: f32,
    /// Names of the values of a [`Unit::Choice`] param, index = value.
    pub choices: &'static [&'static str],
    pub doc: &'static str,
}

impl ParamDecl {
    /// A continuous param, smoothed over [`DEFAULT_SMOOTHING_MS`].
    pub const fn new(name: &'static str, unit: Unit, min: f32, max: f32, default: f32) -> Self {
        Self {
            name,
            unit,
            min,
            max,
            default,
            smoothing_ms: DEFAULT_SMOOTHING_MS,
            choices: &[],
            doc: "",
        }
    }

    /// A 0/1 switch, as [`ParamSpec::toggle`].
    pub const fn toggle(name: &'static str, default_on: bool) -> Self {
        Self::new(
            name,
            Unit::Toggle,
            0.0,
            1.0,
            if default_on { 1.0 } else { 0.0 },
        )
    }

    /// A choice among named values stored as the index, unsmoothed, as
    /// [`ParamSpec::choice`].
    pub const fn choice(
        name: &'static str,
        choices: &'static [&'static str],
        default: usize,
    ) -> Self {
        let max = if choices.is_empty() {
            0.0
        } else {
            (choices.len() - 1) as f32
        };
        Self {
            name,
            unit: Unit::Choice,
            min: 0.0,
            max,
            default: default as f32,
            smoothing_ms: 0.0,
            choices,
            doc: "",
        }
    }

    pub const fn smoothing_ms(mut self, ms: f32) -> Self {
        self.smoothing_ms = ms;
        self
    }

    pub const fn doc(mut self, doc: &'static str) -> Self {
        self.doc = doc;
        self
    }

    /// The same param with another default: for defaults that follow the config (a
    /// band's frequency follows its type).
    pub const fn with_default(mut self, default: f32) -> Self {
        self.default = default;
        self
    }

    /// The same param with another upper bound: for ranges that follow the config (a
    /// delay's `max_ms`).
    pub const fn with_max(mut self, max: f32) -> Self {
        self.max = max;
        self
    }

    /// The spec under the declared name.
    pub fn spec(&self) -> ParamSpec {
        self.spec_named(self.name)
    }

    /// The spec under another name: a family member (`band2.freq_hz`) or a name that
    /// follows the config (`invert_left`).
    pub fn spec_named(&self, name: impl Into<String>) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            unit: self.unit,
            min: self.min,
            max: self.max,
            default: self.default,
            smoothing_ms: self.smoothing_ms,
            choices: self.choices.to_vec(),
            doc: self.doc.to_string(),
        }
    }

    /// A smoother at the default, ramping over the declared smoothing time.
    pub fn smoother(&self, sample_rate_hz: f64) -> LinearSmoother {
        LinearSmoother::new(self.default, self.smoothing_ms, sample_rate_hz)
    }
}

impl ParamSpec {
    /// A smoother at this param's default, ramping over its smoothing time: for params
    /// whose spec is made at build (a script's own params, config-dependent defaults).
    pub fn smoother(&self, sample_rate_hz: f64) -> LinearSmoother {
        LinearSmoother::new(self.default, self.smoothing_ms, sample_rate_hz)
    }
}

/// A typed id enum whose variants are a kind's params, in spec order. Implemented by
/// [`params!`]; the order of the variants is the order of [`ParamId`]s.
pub trait ParamTable: Copy + Eq + 'static {
    /// Every param, in spec order.
    const ALL: &'static [Self];

    /// The declaration of this param.
    fn decl(self) -> &'static ParamDecl;

    /// Position in [`ParamTable::ALL`].
    fn index(self) -> usize;

    /// The id the engine knows this param by, when the table starts the node's params.
    fn id(self) -> ParamId {
        ParamId(self.index() as u32)
    }

    /// The typed param of an engine id (`None` for an id outside the table).
    fn from_id(id: ParamId) -> Option<Self> {
        Self::ALL.get(id.index()).copied()
    }

    /// The spec of every param, in id order.
    fn specs() -> Vec<ParamSpec> {
        Self::ALL.iter().map(|p| p.decl().spec()).collect()
    }

    /// The specs with every name prefixed (`band2.` + `freq_hz`).
    fn specs_prefixed(prefix: &str) -> Vec<ParamSpec> {
        Self::ALL
            .iter()
            .map(|p| p.decl().spec_named(format!("{prefix}{}", p.decl().name)))
            .collect()
    }

    fn default_value(self) -> f32 {
        self.decl().default
    }

    /// A smoother at the default, ramping over the declared smoothing time.
    fn smoother(self, sample_rate_hz: f64) -> LinearSmoother {
        self.decl().smoother(sample_rate_hz)
    }
}

/// Declares a kind's params as a typed id enum with one [`ParamDecl`] per variant, and
/// implements [`ParamTable`] for it. Variants get ids 0, 1, ... in the written order.
///
/// ```
/// use lathe_engine::{ParamDecl, ParamTable, Unit, params};
/// params! {
///     pub enum LimiterParam {
///         CeilingDbtp = ParamDecl::new("ceiling_dbtp", Unit::Dbtp, -24.0, 0.0, -1.0),
///         ReleaseMs = ParamDecl::new("release_ms", Unit::Ms, 1.0, 2000.0, 50.0).smoothing_ms(0.0),
///     }
/// }
/// assert_eq!(LimiterParam::ReleaseMs.id().0, 1);
/// assert_eq!(LimiterParam::specs()[1].smoothing_ms, 0.0);
/// ```
#[macro_export]
macro_rules! params {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $decl:expr ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $crate::ParamTable for $name {
            const ALL: &'static [Self] = &[ $( Self::$variant ),+ ];

            fn decl(self) -> &'static $crate::ParamDecl {
                const DECLS: &[$crate::ParamDecl] = &[ $( $decl ),+ ];
                &DECLS[self as usize]
            }

            fn index(self) -> usize {
                self as usize
            }
        }
    };
}

/// A [`ParamTable`] repeated `count` times with a numbered prefix (`band1.`, `band2.`, ...),
/// starting at param id `first`: the params of a multiband node's bands or a mixer's
/// inputs. Members are ordered band after band, each band in table order. A declared
/// name holding `{n}` gets the 1-based number there instead of a prefix
/// (`split{n}_hz` gives `split1_hz`, `split2_hz`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamFamily<P> {
    /// Id of the first member (band 0, first param).
    pub first: ParamId,
    pub count: usize,
    /// Text before the 1-based band number: `band` gives `band1.freq_hz`.
    pub prefix: &'static str,
    table: std::marker::PhantomData<P>,
}

impl<P: ParamTable> ParamFamily<P> {
    pub fn new(prefix: &'static str, count: usize, first: ParamId) -> Self {
        Self {
            first,
            count,
            prefix,
            table: std::marker::PhantomData,
        }
    }

    /// The name of `param` in band `band` (0-based): `band{band + 1}.{name}`, or the
    /// declared name with `{n}` replaced by `band + 1`.
    pub fn name(&self, band: usize, param: P) -> String {
        let name = param.decl().name;
        if name.contains("{n}") {
            name.replace("{n}", &(band + 1).to_string())
        } else {
            format!("{}{}.{}", self.prefix, band + 1, name)
        }
    }

    /// Every member's spec, band after band.
    pub fn specs(&self) -> Vec<ParamSpec> {
        (0..self.count)
            .flat_map(|band| {
                P::ALL
                    .iter()
                    .map(move |&p| p.decl().spec_named(self.name(band, p)))
            })
            .collect()
    }

    /// The engine id of `param` in band `band` (0-based).
    pub fn id(&self, band: usize, param: P) -> ParamId {
        ParamId(self.first.0 + (band * P::ALL.len() + param.index()) as u32)
    }

    /// (band index, typed param) of an engine id, `None` outside the family.
    pub fn decode(&self, id: ParamId) -> Option<(usize, P)> {
        let offset = id.0.checked_sub(self.first.0)? as usize;
        let band = offset / P::ALL.len();
        (band < self.count).then(|| (band, P::ALL[offset % P::ALL.len()]))
    }
}

/// Params whose list is only known at build (a band's params follow its type, a script
/// declares its own): each spec is pushed with the typed key `set_param` routes it to.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamMap<K> {
    specs: Vec<ParamSpec>,
    keys: Vec<K>,
}

impl<K> Default for ParamMap<K> {
    fn default() -> Self {
        Self {
            specs: Vec::new(),
            keys: Vec::new(),
        }
    }
}

impl<K: Copy> ParamMap<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a param routed to `key`, returning its id.
    pub fn push(&mut self, spec: ParamSpec, key: K) -> ParamId {
        self.specs.push(spec);
        self.keys.push(key);
        ParamId(self.keys.len() as u32 - 1)
    }

    /// Appends every param of table `P`, each routed to `key(param)`.
    pub fn push_table<P: ParamTable>(&mut self, key: impl Fn(P) -> K) {
        for &p in P::ALL {
            self.push(p.decl().spec(), key(p));
        }
    }

    pub fn specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    /// The spec list for the [`crate::NodeSpec`] and the routes for the processor.
    pub fn into_parts(self) -> (Vec<ParamSpec>, ParamRoutes<K>) {
        (self.specs, ParamRoutes(self.keys.into_boxed_slice()))
    }
}

/// The audio-side half of a [`ParamMap`]: engine id -> typed key, without allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamRoutes<K>(Box<[K]>);

impl<K: Copy> ParamRoutes<K> {
    #[inline]
    pub fn get(&self, id: ParamId) -> Option<K> {
        self.0.get(id.index()).copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn keys(&self) -> &[K] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::params! {
        enum TestParam {
            ThresholdDb = ParamDecl::new("threshold_db", Unit::Dbfs, -60.0, 0.0, -18.0)
                .doc("Where it starts."),
            AttackMs = ParamDecl::new("attack_ms", Unit::Ms, 0.1, 500.0, 20.0).smoothing_ms(0.0),
            AutoRelease = ParamDecl::toggle("auto_release", true),
            Detector = ParamDecl::choice("detector", &["peak", "rms"], 1),
        }
    }

    #[test]
    fn specs_equal_the_hand_built_ones() {
        let hand = vec![
            ParamSpec::new("threshold_db", Unit::Dbfs, -60.0, 0.0, -18.0).doc("Where it starts."),
            ParamSpec::new("attack_ms", Unit::Ms, 0.1, 500.0, 20.0).smoothing_ms(0.0),
            ParamSpec::toggle("auto_release", true),
            ParamSpec::choice("detector", &["peak", "rms"], 1),
        ];
        assert_eq!(TestParam::specs(), hand);
    }

    #[test]
    fn ids_round_trip_in_declaration_order() {
        for (i, &p) in TestParam::ALL.iter().enumerate() {
            assert_eq!(p.id(), ParamId(i as u32));
            assert_eq!(TestParam::from_id(p.id()), Some(p));
        }
        assert_eq!(TestParam::from_id(ParamId(4)), None);
        assert_eq!(TestParam::Detector.default_value(), 1.0);
    }

    #[test]
    fn smoother_starts_at_the_default_and_ramps_over_the_declared_time() {
        let mut s = TestParam::ThresholdDb.smoother(1000.0); // 20 ms = 20 frames
        assert_eq!(s.value(), -18.0);
        s.set_target(2.0);
        let mut block = [0.0; 20];
        s.fill(&mut block);
        assert_eq!(block[19], 2.0);
        assert!(block[18] < 2.0);
        let hand = LinearSmoother::new(-18.0, DEFAULT_SMOOTHING_MS, 1000.0);
        assert_eq!(TestParam::ThresholdDb.smoother(1000.0), hand);
        assert_eq!(TestParam::specs()[0].smoother(1000.0), hand);
    }

    crate::params! {
        enum BandParam {
            FreqHz = ParamDecl::new("freq_hz", Unit::Hz, 20.0, 20_000.0, 1000.0),
            GainDb = ParamDecl::new("gain_db", Unit::Db, -24.0, 24.0, 0.0),
        }
    }

    #[test]
    fn a_family_names_and_decodes_every_band() {
        let family = ParamFamily::<BandParam>::new("band", 3, ParamId(2));
        let names: Vec<String> = family.specs().into_iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "band1.freq_hz",
                "band1.gain_db",
                "band2.freq_hz",
                "band2.gain_db",
                "band3.freq_hz",
                "band3.gain_db"
            ]
        );
        assert_eq!(family.id(1, BandParam::GainDb), ParamId(5));
        for band in 0..3 {
            for &p in BandParam::ALL {
                assert_eq!(family.decode(family.id(band, p)), Some((band, p)));
            }
        }
        assert_eq!(family.decode(ParamId(1)), None);
        assert_eq!(family.decode(ParamId(8)), None);
        crate::params! {
            enum SplitParam {
                SplitHz = ParamDecl::new("split{n}_hz", Unit::Hz, 10.0, 20_000.0, 1000.0),
            }
        }
        let splits = ParamFamily::<SplitParam>::new("", 2, ParamId(0));
        assert_eq!(splits.specs()[1].name, "split2_hz");
        assert_eq!(
            BandParam::specs_prefixed("low.")[1].name,
            "low.gain_db".to_string()
        );
    }

    #[test]
    fn a_map_routes_params_known_only_at_build() {
        let mut map = ParamMap::new();
        map.push_table::<BandParam>(|p| (0, p));
        let id = map.push(
            BandParam::GainDb
                .decl()
                .with_default(3.0)
                .spec_named("band2.gain_db"),
            (1, BandParam::GainDb),
        );
        let (specs, routes) = map.into_parts();
        assert_eq!(id, ParamId(2));
        assert_eq!(specs[2].default, 3.0);
        assert_eq!(routes.get(ParamId(2)), Some((1, BandParam::GainDb)));
        assert_eq!(routes.get(ParamId(3)), None);
    }
}
