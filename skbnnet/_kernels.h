/*
 * Fused training kernels, one pass over memory where NumPy needs several.
 *
 * Each kernel is written once, for a generic element type T, and stamped out
 * for float and double by SKB_KERNELS below; skbnnet/_fused.pyx wraps them.
 * Matrices are C-contiguous (m, u) arrays: row i, unit j is x[i * u + j], so
 * the inner loops run over units and vectorise.
 *
 * Where GCC supports function multi-versioning, every kernel is compiled for
 * AVX-512, AVX2 and baseline x86-64 and the loader picks the widest the CPU
 * has. Floating-point contraction is off (see setup.py), so all versions
 * round alike and results do not depend on the machine's vector width.
 */
#ifndef SKBNNET_KERNELS_H
#define SKBNNET_KERNELS_H

#include <math.h>
#include <stddef.h>

#if defined(_MSC_VER)
#define restrict __restrict
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__)
#define SKB_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SKB_CLONES
#endif

/* Activation codes of activation_backward; skbnnet/_fused.pyx maps names. */
enum { SKB_IDENTITY = 0, SKB_LOGISTIC = 1, SKB_TANH = 2, SKB_RELU = 3 };

#define SKB_KERNELS(T, SFX, SQRT, EXP, LOG, COS, SIN, HYPOT)                   \
                                                                               \
/* Adam on scaled moments: m = b1 m + g, v = b2 v + g^2,                       \
 * p -= lr m / (sqrt(v) + eps). */                                             \
SKB_CLONES static void adam_step_##SFX(                                        \
    T *restrict p, const T *restrict g, T *restrict m, T *restrict v,          \
    ptrdiff_t n, T b1, T b2, T lr, T eps)                                      \
{                                                                              \
    for (ptrdiff_t i = 0; i < n; i++) {                                        \
        T mi = b1 * m[i] + g[i];                                               \
        T vi = b2 * v[i] + g[i] * g[i];                                        \
        m[i] = mi;                                                             \
        v[i] = vi;                                                             \
        p[i] -= lr * mi / (SQRT(vi) + eps);                                    \
    }                                                                          \
}                                                                              \
                                                                               \
/* RMSprop: s = b2 s + (1 - b2) g^2, p -= lr g / (sqrt(s) + eps). */           \
SKB_CLONES static void rmsprop_step_##SFX(                                     \
    T *restrict p, const T *restrict g, T *restrict s, ptrdiff_t n, T b2,      \
    T lr, T eps)                                                               \
{                                                                              \
    T rest = 1 - b2;                                                           \
    for (ptrdiff_t i = 0; i < n; i++) {                                        \
        T si = b2 * s[i] + rest * (g[i] * g[i]);                               \
        s[i] = si;                                                             \
        p[i] -= lr * g[i] / (SQRT(si) + eps);                                  \
    }                                                                          \
}                                                                              \
                                                                               \
/* Momentum: vel = mu vel - lr g; p += vel, or with Nesterov                   \
 * p += mu vel - lr g. */                                                      \
SKB_CLONES static void sgd_step_##SFX(                                         \
    T *restrict p, const T *restrict g, T *restrict vel, ptrdiff_t n, T mu,    \
    T lr, int nesterov)                                                        \
{                                                                              \
    if (nesterov) {                                                            \
        for (ptrdiff_t i = 0; i < n; i++) {                                    \
            T step = lr * g[i];                                                \
            T vi = mu * vel[i] - step;                                         \
            vel[i] = vi;                                                       \
            p[i] = (p[i] - step) + mu * vi;                                    \
        }                                                                      \
    } else {                                                                   \
        for (ptrdiff_t i = 0; i < n; i++) {                                    \
            T vi = mu * vel[i] - lr * g[i];                                    \
            vel[i] = vi;                                                       \
            p[i] += vi;                                                        \
        }                                                                      \
    }                                                                          \
}                                                                              \
                                                                               \
/* y += a x */                                                                 \
SKB_CLONES static void axpy_##SFX(                                             \
    T *restrict y, const T *restrict x, ptrdiff_t n, T a)                      \
{                                                                              \
    for (ptrdiff_t i = 0; i < n; i++) {                                        \
        y[i] += a * x[i];                                                      \
    }                                                                          \
}                                                                              \
                                                                               \
/* Training-mode batch norm with row weights w summing to one. z (m, u) is     \
 * overwritten with x_hat = (z - mean) * inv_std and out receives              \
 * gamma * x_hat + beta; mean, var (biased) and inv_std are (u,). */           \
SKB_CLONES static void batch_norm_forward_##SFX(                               \
    T *restrict z, ptrdiff_t m, ptrdiff_t u, const T *restrict w,              \
    const T *restrict gamma, const T *restrict beta, T eps,                    \
    T *restrict out, T *restrict mean, T *restrict var,                        \
    T *restrict inv_std)                                                       \
{                                                                              \
    for (ptrdiff_t j = 0; j < u; j++) {                                        \
        mean[j] = 0;                                                           \
        var[j] = 0;                                                            \
    }                                                                          \
    for (ptrdiff_t i = 0; i < m; i++) {                                        \
        const T *row = z + i * u;                                              \
        for (ptrdiff_t j = 0; j < u; j++) {                                    \
            mean[j] += w[i] * row[j];                                          \
        }                                                                      \
    }                                                                          \
    for (ptrdiff_t i = 0; i < m; i++) {                                        \
        const T *row = z + i * u;                                              \
        for (ptrdiff_t j = 0; j < u; j++) {                                    \
            T d = row[j] - mean[j];                                            \
            var[j] += w[i] * (d * d);                                          \
        }                                                                      \
    }                                                                          \
    for (ptrdiff_t j = 0; j < u; j++) {                                        \
        inv_std[j] = 1 / SQRT(var[j] + eps);                                   \
    }                                                                          \
    for (ptrdiff_t i = 0; i < m; i++) {                                        \
        T *row = z + i * u;                                                    \
        T *out_row = out + i * u;                                              \
        for (ptrdiff_t j = 0; j < u; j++) {                                    \
            T x_hat = (row[j] - mean[j]) * inv_std[j];                         \
            row[j] = x_hat;                                                    \
            out_row[j] = gamma[j] * x_hat + beta[j];                           \
        }                                                                      \
    }                                                                          \
}                                                                              \
                                                                               \
/* Fused batch-norm backward: with dY in delta, grad_beta = sum_i dY,          \
 * grad_gamma = sum_i dY x_hat and delta becomes                               \
 * gamma inv_std (dY - w_i (grad_beta + x_hat grad_gamma)). */                 \
SKB_CLONES static void batch_norm_backward_##SFX(                              \
    T *restrict delta, const T *restrict x_hat, ptrdiff_t m, ptrdiff_t u,      \
    const T *restrict w, const T *restrict gamma,                              \
    const T *restrict inv_std, T *restrict grad_gamma,                         \
    T *restrict grad_beta)                                                     \
{                                                                              \
    for (ptrdiff_t j = 0; j < u; j++) {                                        \
        grad_gamma[j] = 0;                                                     \
        grad_beta[j] = 0;                                                      \
    }                                                                          \
    for (ptrdiff_t i = 0; i < m; i++) {                                        \
        const T *d = delta + i * u;                                            \
        const T *x = x_hat + i * u;                                            \
        for (ptrdiff_t j = 0; j < u; j++) {                                    \
            grad_beta[j] += d[j];                                              \
            grad_gamma[j] += d[j] * x[j];                                      \
        }                                                                      \
    }                                                                          \
    for (ptrdiff_t i = 0; i < m; i++) {                                        \
        T *d = delta + i * u;                                                  \
        const T *x = x_hat + i * u;                                            \
        for (ptrdiff_t j = 0; j < u; j++) {                                    \
            T centred = d[j] - w[i] * (grad_beta[j] + x[j] * grad_gamma[j]);   \
            d[j] = centred * (gamma[j] * inv_std[j]);                          \
        }                                                                      \
    }                                                                          \
}                                                                              \
                                                                               \
/* delta *= f'(input), computed from the activation's output a. */            \
SKB_CLONES static void activation_backward_##SFX(                              \
    T *restrict delta, const T *restrict a, ptrdiff_t n, int kind)             \
{                                                                              \
    switch (kind) {                                                            \
    case SKB_LOGISTIC:                                                         \
        for (ptrdiff_t i = 0; i < n; i++) delta[i] *= a[i] * (1 - a[i]);       \
        break;                                                                 \
    case SKB_TANH:                                                             \
        for (ptrdiff_t i = 0; i < n; i++) delta[i] *= 1 - a[i] * a[i];         \
        break;                                                                 \
    case SKB_RELU:                                                             \
        for (ptrdiff_t i = 0; i < n; i++) delta[i] = a[i] > 0 ? delta[i] : 0;  \
        break;                                                                 \
    }                                                                          \
}                                                                              \
                                                                               \
/* Weighted softmax cross-entropy of logits (m, k) with class indices y,     \
 * against targets smoothed to (1 - s) onehot(y) + s / k. Returns            \
 * sum_i w_i (log sum_j exp z_ij - (1 - s) z_iy - s / k sum_j z_ij) and      \
 * overwrites the logits with its gradient w_i (softmax(z_i) - target_i). */ \
static double softmax_cross_entropy_##SFX(                                     \
    T *restrict logits, ptrdiff_t m, ptrdiff_t k, const ptrdiff_t *restrict y, \
    const T *restrict w, double s)                                             \
{                                                                              \
    double loss = 0;                                                           \
    const T spread = (T)(s / (double)k), keep = (T)(1.0 - s);                  \
    for (ptrdiff_t i = 0; i < m; i++) {                                        \
        T *row = logits + i * k;                                               \
        T top = row[0];                                                        \
        for (ptrdiff_t j = 1; j < k; j++) {                                    \
            top = row[j] > top ? row[j] : top;                                 \
        }                                                                      \
        double picked = (double)(row[y[i]] - top);                             \
        if (s > 0) {                                                           \
            double total = 0;                                                  \
            for (ptrdiff_t j = 0; j < k; j++) {                                \
                total += (double)(row[j] - top);                               \
            }                                                                  \
            picked = (1.0 - s) * picked + s / (double)k * total;               \
        }                                                                      \
        T sum_exp = 0;                                                         \
        for (ptrdiff_t j = 0; j < k; j++) {                                    \
            row[j] = EXP(row[j] - top);                                        \
            sum_exp += row[j];                                                 \
        }                                                                      \
        loss += (double)w[i] * ((double)LOG(sum_exp) - picked);                \
        if (s > 0) {                                                           \
            for (ptrdiff_t j = 0; j < k; j++) {                                \
                row[j] = row[j] / sum_exp * w[i] - spread * w[i];              \
            }                                                                  \
            row[y[i]] -= keep * w[i];                                          \
        } else {                                                               \
            for (ptrdiff_t j = 0; j < k; j++) {                                \
                row[j] = row[j] / sum_exp * w[i];                              \
            }                                                                  \
            row[y[i]] -= w[i];                                                 \
        }                                                                      \
    }                                                                          \
    return loss;                                                               \
}                                                                              \
                                                                               \
/* Smooth clip of X (m, n) into out: x = (X - center) / scale, infinities   \
 * as +-largest, then (x / hypot(c, x)) * c, which squares nothing and so   \
 * cannot overflow. NaN stays NaN. */                                         \
SKB_CLONES static void smooth_clip_##SFX(                                      \
    const T *restrict X, ptrdiff_t m, ptrdiff_t n, const T *restrict center,   \
    const T *restrict scale, T c, T largest, T *restrict out)                  \
{                                                                              \
    for (ptrdiff_t i = 0; i < m; i++) {                                        \
        const T *row = X + i * n;                                              \
        T *o = out + i * n;                                                    \
        for (ptrdiff_t j = 0; j < n; j++) {                                    \
            T x = (row[j] - center[j]) / scale[j];                             \
            x = x > largest ? largest : x;                                     \
            x = x < -largest ? -largest : x;                                   \
            o[j] = (x / HYPOT(c, x)) * c;                                      \
        }                                                                      \
    }                                                                          \
}                                                                              \
                                                                               \
/* Periodic features of the inputs held in the first p columns of E (m, w):  \
 * for embedded feature e of column cols[e] and frequency t < k,             \
 * E[i, p + e k + t] = cos(z) with z = f[e k + t] E[i, cols[e]] + b[e k + t],\
 * and sines[i, e k + t] = sin(z) unless sines is NULL (inference). */        \
static void periodic_forward_##SFX(                                            \
    T *restrict E, ptrdiff_t m, ptrdiff_t w, ptrdiff_t p,                      \
    const ptrdiff_t *restrict cols, ptrdiff_t n_e, ptrdiff_t k,                \
    const T *restrict f, const T *restrict b, T *restrict sines)               \
{                                                                              \
    const ptrdiff_t nk = n_e * k;                                              \
    for (ptrdiff_t i = 0; i < m; i++) {                                        \
        T *row = E + i * w;                                                    \
        T *out = row + p;                                                      \
        for (ptrdiff_t e = 0; e < n_e; e++) {                                  \
            const T x = row[cols[e]];                                          \
            for (ptrdiff_t j = e * k; j < (e + 1) * k; j++) {                  \
                const T z = f[j] * x + b[j];                                   \
                out[j] = COS(z);                                               \
                if (sines) sines[i * nk + j] = SIN(z);                         \
            }                                                                  \
        }                                                                      \
    }                                                                          \
}                                                                              \
                                                                               \
/* Gradients of periodic_forward's frequencies f and phases b from G (m,    \
 * n_e k), the gradient of the loss with respect to its cosines: with        \
 * d = -G[i, j] sines[i, j], grad_b[j] = sum_i d and                         \
 * grad_f[j] = sum_i d E[i, cols[e]]. */                                      \
static void periodic_backward_##SFX(                                           \
    const T *restrict G, const T *restrict E, ptrdiff_t m, ptrdiff_t w,        \
    const ptrdiff_t *restrict cols, ptrdiff_t n_e, ptrdiff_t k,                \
    const T *restrict sines, T *restrict grad_f, T *restrict grad_b)           \
{                                                                              \
    const ptrdiff_t nk = n_e * k;                                              \
    for (ptrdiff_t j = 0; j < nk; j++) grad_f[j] = grad_b[j] = 0;              \
    for (ptrdiff_t i = 0; i < m; i++) {                                        \
        const T *row = E + i * w;                                              \
        const T *g = G + i * nk, *s = sines + i * nk;                          \
        for (ptrdiff_t e = 0; e < n_e; e++) {                                  \
            const T x = row[cols[e]];                                          \
            for (ptrdiff_t j = e * k; j < (e + 1) * k; j++) {                  \
                const T d = -g[j] * s[j];                                      \
                grad_b[j] += d;                                                \
                grad_f[j] += d * x;                                            \
            }                                                                  \
        }                                                                      \
    }                                                                          \
}

SKB_KERNELS(float, f32, sqrtf, expf, logf, cosf, sinf, hypotf)
SKB_KERNELS(double, f64, sqrt, exp, log, cos, sin, hypot)

#endif
