// Fused multi-step LIF neuron: forward and backward over a [T, N] sequence.
//
// Compiled at run time by CuPy (NVRTC) through snnsk/_backends/cuda.py, one
// template instantiation per option set; tests/test_backends_cuda.py builds
// every instantiation with nvcc for sm_80 and sm_90. The file is self-contained
// (no #include): NVRTC then needs no CUDA include path, which a pip-installed
// CuPy does not always have.
//
// Layout: element (t, n) of every [T, N] buffer is at t * N + n. One thread owns
// one neuron n and walks the time loop itself, so the membrane potential stays
// in a register and a warp's loads and stores of one time step are contiguous.
//
// Traffic in training is the ideal 6 elements per neuron and step: the forward
// reads x and writes the spike and H (the pre-reset potential, the only thing
// the backward needs); the backward reads the spike gradient and H and writes
// the input gradient. V is written only when the caller asks for it. With a
// refractory period the forward also writes one bit per step (held or not),
// packed 32 steps to a word: [ceil(T / 32), N] words.
//
// H is stored as its distance to the threshold, U = H - threshold: the argument
// of the surrogate, which the PyTorch reference computes the same way. In a
// 16-bit type U keeps its relative precision near the threshold, where the
// surrogate is largest and steepest (H itself near 1.0 would carry an absolute
// error of 2^-9 in bfloat16), and rounding never changes its sign, so the sign
// bit of the stored U is exactly the forward's firing decision.
//
// Arithmetic is float32 for every storage type. The forward charge uses the
// _rn intrinsics, which the compiler never contracts into an FMA, in the
// operation order of the PyTorch reference on CUDA (where `x / tau` with a
// Python scalar is computed as `x * (1.0f / tau)`), so spikes agree bit for bit
// with snnsk's torch backend on the same device.

#ifndef SNNSK_LIF_CU
#define SNNSK_LIF_CU

// Time steps whose loads are issued together before they are used: the loads
// of one thread are independent across t, the arithmetic is not, so staging a
// chunk in registers keeps several loads in flight per thread.
#define SNNSK_CHUNK 8

// ---------------------------------------------------------------------------
// Conversions between the storage type and float32.
//
// Written here instead of including cuda_fp16.h / cuda_bf16.h so that NVRTC
// needs no header search path. On the device the conversions are single
// instructions; the portable branches (bit arithmetic, round to nearest even)
// serve older architectures and host builds of this file.
// ---------------------------------------------------------------------------

__device__ __forceinline__ float snnsk_half_to_float(unsigned short h)
{
#if defined(__CUDA_ARCH__)
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
#else
    const unsigned int sign = ((unsigned int)h & 0x8000u) << 16;
    const unsigned int e = ((unsigned int)h >> 10) & 0x1fu;
    const unsigned int m = (unsigned int)h & 0x3ffu;
    if (e == 0x1fu)  // infinity or NaN
        return __uint_as_float(sign | 0x7f800000u | (m << 13));
    if (e == 0u) {  // zero or subnormal: m * 2^-24, exact in float32
        const float f = (float)m * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    return __uint_as_float(sign | ((e + 112u) << 23) | (m << 13));
#endif
}

__device__ __forceinline__ unsigned short snnsk_float_to_half(float f)
{
#if defined(__CUDA_ARCH__)
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
#else
    const unsigned int u = __float_as_uint(f);
    const unsigned int sign = (u >> 16) & 0x8000u;
    const unsigned int a = u & 0x7fffffffu;
    if (a > 0x7f800000u)  // NaN: a quiet NaN
        return (unsigned short)(sign | 0x7e00u);
    const unsigned int e = a >> 23;
    if (e > 142u)  // >= 2^16 (or infinity): infinity
        return (unsigned short)(sign | 0x7c00u);
    if (e >= 113u) {  // normal half: keep 10 of the 23 mantissa bits, round to nearest even
        unsigned int r = ((e - 112u) << 10) | ((a >> 13) & 0x3ffu);
        const unsigned int rest = a & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (r & 1u)))
            ++r;  // a carry into the exponent is still the right encoding (up to infinity)
        return (unsigned short)(sign | r);
    }
    if (e < 102u)  // below 2^-25: rounds to zero
        return (unsigned short)sign;
    // subnormal half: the value in units of 2^-24 is m >> (126 - e)
    const unsigned int m = (a & 0x7fffffu) | 0x800000u;
    const unsigned int shift = 126u - e;
    unsigned int r = m >> shift;
    const unsigned int rest = m & ((1u << shift) - 1u);
    const unsigned int halfway = 1u << (shift - 1u);
    if (rest > halfway || (rest == halfway && (r & 1u)))
        ++r;
    return (unsigned short)(sign | r);
#endif
}

__device__ __forceinline__ float snnsk_bf16_to_float(unsigned short b)
{
    return __uint_as_float((unsigned int)b << 16);  // exact
}

__device__ __forceinline__ unsigned short snnsk_float_to_bf16(float f)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    unsigned short b;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(b) : "f"(f));
    return b;
#else
    const unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)  // NaN: a quiet NaN, as PyTorch makes it
        return (unsigned short)((u >> 16) | 0x40u);
    return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);  // round to nearest even
#endif
}

// Storage traits: load as float, store a float, and the two spike values.
template <typename IO> struct snnsk_io;

template <> struct snnsk_io<float> {
    static __device__ __forceinline__ float load(const float v) { return v; }
    static __device__ __forceinline__ float store(const float f) { return f; }
    static __device__ __forceinline__ float spike(const bool fire) { return fire ? 1.0f : 0.0f; }
};

// 16-bit storage types: opaque 16-bit words, widened, narrowed and given the
// bits of 1.0 by overloads on the type.
struct snnsk_half { unsigned short bits; };
struct snnsk_bf16 { unsigned short bits; };

__device__ __forceinline__ float snnsk_widen(const snnsk_half v) { return snnsk_half_to_float(v.bits); }
__device__ __forceinline__ float snnsk_widen(const snnsk_bf16 v) { return snnsk_bf16_to_float(v.bits); }
__device__ __forceinline__ void snnsk_narrow(float f, snnsk_half& v) { v.bits = snnsk_float_to_half(f); }
__device__ __forceinline__ void snnsk_narrow(float f, snnsk_bf16& v) { v.bits = snnsk_float_to_bf16(f); }
__device__ __forceinline__ unsigned short snnsk_one_bits(const snnsk_half) { return 0x3c00u; }
__device__ __forceinline__ unsigned short snnsk_one_bits(const snnsk_bf16) { return 0x3f80u; }

template <typename W> struct snnsk_io16 {
    static __device__ __forceinline__ float load(const W v) { return snnsk_widen(v); }
    static __device__ __forceinline__ W store(const float f)
    {
        W v;
        snnsk_narrow(f, v);
        return v;
    }
    static __device__ __forceinline__ W spike(const bool fire)
    {
        W v;
        v.bits = fire ? snnsk_one_bits(W()) : (unsigned short)0u;
        return v;
    }
};

template <> struct snnsk_io<snnsk_half> : snnsk_io16<snnsk_half> {};
template <> struct snnsk_io<snnsk_bf16> : snnsk_io16<snnsk_bf16> {};

// ---------------------------------------------------------------------------
// Surrogate derivatives dS/dx at x = H - threshold (forward is the Heaviside step).
// SG: 0 atan, 1 sigmoid, 2 fast_sigmoid, 3 triangle. `aux` is a precomputed
// constant: pi/2 * alpha (atan), alpha^2 (triangle), unused otherwise.
// ---------------------------------------------------------------------------

template <int SG>
__device__ __forceinline__ float snnsk_surrogate(const float x, const float alpha, const float aux)
{
    if (SG == 0) {
        const float z = aux * x;
        return alpha / (2.0f * (1.0f + z * z));
    } else if (SG == 1) {
        const float s = 1.0f / (1.0f + expf(-alpha * x));
        return alpha * s * (1.0f - s);
    } else if (SG == 2) {
        const float d = 1.0f + alpha * fabsf(x);
        return alpha / (2.0f * d * d);
    } else {
        return fmaxf(0.0f, alpha - aux * fabsf(x));
    }
}

// ---------------------------------------------------------------------------
// Forward.
//
// HARD: hard reset (V = v_reset after a spike) or soft (V = H - threshold).
// DECAY_INPUT: H = V + (X - (V - v_reset)) / tau, else H = V - (V - v_reset) / tau + X.
// REFRACTORY: a refractory period of `refractory` steps after each spike, during
//   which the neuron keeps its potential, ignores its input and cannot fire.
// STORE_H: write U = H - threshold (and the held bits if REFRACTORY) for the
//   backward; off for inference. STORE_V: write the post-reset potential sequence.
// Pointers a variant does not use may be null.
// ---------------------------------------------------------------------------

template <typename IO, int HARD, int DECAY_INPUT, int REFRACTORY, int STORE_H, int STORE_V>
__global__ void snnsk_lif_forward(
    const IO* __restrict__ x, IO* __restrict__ spikes, IO* __restrict__ u_out,
    unsigned int* __restrict__ held_out, IO* __restrict__ v_out,
    const int T, const long long N,
    const float threshold, const float v_reset, const float inv_tau, const int refractory)
{
    const long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N)
        return;
    float v = v_reset;
    int left = 0;                // refractory steps still to serve
    unsigned int held_bits = 0;  // bit t % 32: step t was held

    for (int t0 = 0; t0 < T; t0 += SNNSK_CHUNK) {
        float xs[SNNSK_CHUNK];
#pragma unroll
        for (int k = 0; k < SNNSK_CHUNK; ++k)
            if (t0 + k < T)
                xs[k] = snnsk_io<IO>::load(x[(long long)(t0 + k) * N + n]);
#pragma unroll
        for (int k = 0; k < SNNSK_CHUNK; ++k) {
            const int t = t0 + k;
            if (t >= T)
                break;
            float h;
            if (DECAY_INPUT)
                h = __fadd_rn(v, __fmul_rn(__fsub_rn(xs[k], __fsub_rn(v, v_reset)), inv_tau));
            else
                h = __fadd_rn(__fsub_rn(v, __fmul_rn(__fsub_rn(v, v_reset), inv_tau)), xs[k]);
            bool fire = h >= threshold;
            if (REFRACTORY) {
                if (left > 0) {  // held: the charge is discarded
                    h = v;
                    fire = false;
                    --left;
                    held_bits |= 1u << (t & 31);
                } else if (fire) {
                    left = refractory;
                }
            }
            if (fire)
                v = HARD ? v_reset : __fsub_rn(h, threshold);
            else
                v = h;
            const long long i = (long long)t * N + n;
            spikes[i] = snnsk_io<IO>::spike(fire);
            if (STORE_H)  // the reference's surrogate argument, H - threshold, in float32
                u_out[i] = snnsk_io<IO>::store(__fsub_rn(h, threshold));
            if (STORE_V)
                v_out[i] = snnsk_io<IO>::store(v);
            if (REFRACTORY && STORE_H && ((t & 31) == 31 || t == T - 1)) {
                held_out[(long long)(t >> 5) * N + n] = held_bits;
                held_bits = 0;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Backward: one reverse pass over time from U = H - threshold (and the held bits).
//
// With g = dL/dV[t] carried back from step t + 1 (plus grad_v[t] if given),
// at a step that was not held:
//   dL/dH[t] = grad_s[t] * sg + g * dV/dH,   sg = surrogate(U)
//   dV/dH    = hard: (1 - S) + through_reset * (v_reset - threshold - U) * sg
//              soft: 1 - through_reset * threshold * sg
// where S, the forward's spike, is the sign bit of U clear (a tiny negative U
// may be stored as -0.0, which `U >= 0` would count as a spike).
//   dL/dX[t] = dL/dH[t] * dh_dx,   dL/dV[t-1] = dL/dH[t] * decay
// (through_reset = 0 with detach_reset; dh_dx = 1/tau or 1; decay = 1 - 1/tau);
// at a held step V[t] = V[t-1]: dL/dX[t] = 0 and g passes through unchanged.
// HAS_GRAD_S / HAS_GRAD_V: whether the spikes / the potentials received a
// gradient (a missing one is never materialised as zeros).
// ---------------------------------------------------------------------------

template <typename IO, int SG, int HARD, int REFRACTORY, int HAS_GRAD_S, int HAS_GRAD_V>
__global__ void snnsk_lif_backward(
    const IO* __restrict__ grad_s, const IO* __restrict__ grad_v, const IO* __restrict__ u_in,
    const unsigned int* __restrict__ held_in, IO* __restrict__ grad_x,
    const int T, const long long N,
    const float threshold, const float v_reset, const float alpha, const float aux,
    const float dh_dx, const float decay, const float through_reset)
{
    const long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N)
        return;
    const float reset_gap = v_reset - threshold;
    float g = 0.0f;  // dL/dV[t] from the steps after t
    unsigned int held_bits = 0;

    for (int t1 = T - 1; t1 >= 0; t1 -= SNNSK_CHUNK) {  // steps t1, t1 - 1, ... down the chunk
        float us[SNNSK_CHUNK], gs[SNNSK_CHUNK], gv[SNNSK_CHUNK];
#pragma unroll
        for (int k = 0; k < SNNSK_CHUNK; ++k) {
            const int t = t1 - k;
            if (t >= 0) {
                const long long i = (long long)t * N + n;
                us[k] = snnsk_io<IO>::load(u_in[i]);
                gs[k] = HAS_GRAD_S ? snnsk_io<IO>::load(grad_s[i]) : 0.0f;
                gv[k] = HAS_GRAD_V ? snnsk_io<IO>::load(grad_v[i]) : 0.0f;
            }
        }
#pragma unroll
        for (int k = 0; k < SNNSK_CHUNK; ++k) {
            const int t = t1 - k;
            if (t < 0)
                break;
            const long long i = (long long)t * N + n;
            if (HAS_GRAD_V)
                g += gv[k];
            if (REFRACTORY) {
                if (t == T - 1 || (t & 31) == 31)
                    held_bits = held_in[(long long)(t >> 5) * N + n];
                if ((held_bits >> (t & 31)) & 1u) {
                    grad_x[i] = snnsk_io<IO>::store(0.0f);
                    continue;
                }
            }
            const float u = us[k];
            const float sg = snnsk_surrogate<SG>(u, alpha, aux);
            float dv_dh;
            if (HARD) {
                const bool fired = (__float_as_uint(u) >> 31) == 0u;
                dv_dh = (fired ? 0.0f : 1.0f) + through_reset * (reset_gap - u) * sg;
            } else
                dv_dh = 1.0f - through_reset * threshold * sg;
            const float gh = (HAS_GRAD_S ? gs[k] * sg : 0.0f) + g * dv_dh;
            grad_x[i] = snnsk_io<IO>::store(gh * dh_dx);
            g = gh * decay;
        }
    }
}

#endif  // SNNSK_LIF_CU
