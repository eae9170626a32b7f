//! DSP primitives shared by the node kinds and by offline analysis: filters, meters,
//! oversampling, peak detection, SIMD lanes and fast math. Nothing here is a node kind.

pub mod analysis;
pub mod ballistics;
pub mod bilinear;
pub mod biquad;
pub mod bs1770;
pub mod coef_grid;
pub mod cpu;
pub mod eq_band;
pub mod fastmath;
pub mod filter_chain;
pub mod fir_bound;
pub mod input_history;
pub mod lanes;
pub mod linkwitz_riley;
pub mod near_nyquist;
pub mod noise;
pub mod oversample;
pub mod partitioned;
pub mod peak_detector;
pub mod polyphase;
pub mod work_buffer;
