/* CPU kernels for the CPPN encoding: mutation and rendering.
 *
 * They work on the genome tensors of fooling/encodings/cppn.py (see its
 * docstring for the layout) and do what its PyTorch code does, one genome at a
 * time: on a CPU a population of small networks is far cheaper as a loop per
 * genome than as a few hundred tiny tensor operations.
 *
 * Built by cppn_native.py with the system C compiler. Kept free of fused
 * multiply-adds, reassociation and reciprocals, so that mutation gives the same
 * networks as the PyTorch code bit for bit (weights to within powf's last bit).
 * sinf and expf are glibc's vectorised ones, which fast-math (finite-only)
 * needs: so every expf argument stays within [-80, 80].
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { SINE, SIGMOID, GAUSSIAN, LINEAR, NUM_ACTIVATIONS };
enum { MAX_NODES = 64, STRUCTURE_DRAWS = 15 }; /* as in cppn_native.py */

/* Rates, in the order of the structural operators. */
enum { CHANGE_CONNECTION, ADD_CONNECTION, DELETE_CONNECTION, ADD_NODE, DELETE_NODE };

typedef struct {
    int64_t nodes;         /* N: slots per genome */
    int64_t inputs;        /* input slots come first */
    int64_t outputs;       /* output slots come last */
    float weight_range;    /* weights lie in [-weight_range, weight_range] */
    float rates[5];        /* by structural operator, as above */
    float weight_rate;     /* per connection */
    float activation_rate; /* per hidden or output node */
    float exponent;        /* 1 / (eta + 1) of the polynomial mutation */
} Shape;

typedef struct {
    float *weight;      /* [N, N] (to, from) */
    uint8_t *enabled;   /* [N, N] */
    int64_t *activation;/* [N] */
    uint8_t *alive;     /* [N] */
    float *order;       /* [N] */
} Genome;

/* The index of the nth set flag among flags[0], flags[stride], ...; as cppn._pick. */
static int64_t nth_set(const uint8_t *flags, int64_t count, int64_t stride, int64_t nth) {
    for (int64_t i = 0; i < count; i++) {
        nth -= flags[i * stride] != 0; /* no branch on the flags: they are unpredictable */
        if (nth < 0) return i;
    }
    return count - 1;
}

static int64_t count_set(const uint8_t *flags, int64_t count, int64_t stride) {
    int64_t total = 0;
    for (int64_t i = 0; i < count; i++) total += flags[i * stride] != 0;
    return total;
}

/* floor(u * count) computed in float32, as PyTorch does. */
static int64_t scaled(float u, int64_t count) { return (int64_t)(u * (float)count); }

/* free[to * N + from]: a connection that does not exist and keeps the network feed-forward. */
static void free_connections(const Shape *s, const Genome *g, uint8_t *free) {
    int64_t n = s->nodes;
    for (int64_t to = 0; to < n; to++) {
        int receives = g->alive[to] & (to >= s->inputs);
        for (int64_t from = 0; from < n; from++) /* & rather than &&: no branches */
            free[to * n + from] = receives & g->alive[from] & (from < n - s->outputs) &
                                  (g->order[from] < g->order[to]) & !g->enabled[to * n + from];
    }
}

static void change_connection(const Shape *s, Genome *g, const float *u) {
    int64_t n = s->nodes;
    uint8_t free[MAX_NODES * MAX_NODES];
    if (!(u[0] < s->rates[CHANGE_CONNECTION])) return;
    int64_t edges = count_set(g->enabled, n * n, 1);
    if (edges == 0) return;
    int64_t edge = nth_set(g->enabled, n * n, 1, scaled(u[1], edges));
    int64_t to = edge / n, from = edge % n;
    free_connections(s, g, free);
    int move_source = u[2] < 0.5f;
    /* candidates: new sources of `to` (a row of free), or new targets of `from` (a column) */
    const uint8_t *candidates = move_source ? free + to * n : free + from;
    int64_t stride = move_source ? 1 : n;
    int64_t options = count_set(candidates, n, stride);
    if (options == 0) return;
    int64_t other = nth_set(candidates, n, stride, scaled(u[3], options));
    int64_t new_to = move_source ? to : other, new_from = move_source ? other : from;
    g->enabled[to * n + from] = 0;
    g->enabled[new_to * n + new_from] = 1;
    g->weight[new_to * n + new_from] = g->weight[to * n + from];
}

static void add_connection(const Shape *s, Genome *g, const float *u) {
    int64_t n = s->nodes;
    uint8_t free[MAX_NODES * MAX_NODES];
    if (!(u[0] < s->rates[ADD_CONNECTION])) return;
    free_connections(s, g, free);
    int64_t options = count_set(free, n * n, 1);
    if (options == 0) return;
    int64_t edge = nth_set(free, n * n, 1, scaled(u[1], options));
    g->enabled[edge] = 1;
    g->weight[edge] = (u[2] * 2.0f - 1.0f) * s->weight_range;
}

static void delete_connection(const Shape *s, Genome *g, const float *u) {
    int64_t n = s->nodes;
    if (!(u[0] < s->rates[DELETE_CONNECTION])) return;
    int64_t edges = count_set(g->enabled, n * n, 1);
    if (edges == 0) return;
    g->enabled[nth_set(g->enabled, n * n, 1, scaled(u[1], edges))] = 0;
}

static void add_node(const Shape *s, Genome *g, const float *u) {
    int64_t n = s->nodes, hidden = n - s->inputs - s->outputs;
    uint8_t dead[MAX_NODES];
    if (!(u[0] < s->rates[ADD_NODE])) return;
    for (int64_t i = 0; i < hidden; i++) dead[i] = !g->alive[s->inputs + i];
    int64_t slots = count_set(dead, hidden, 1);
    int64_t edges = count_set(g->enabled, n * n, 1);
    if (slots == 0 || edges == 0) return;
    int64_t node = s->inputs + nth_set(dead, hidden, 1, scaled(u[1], slots));
    int64_t edge = nth_set(g->enabled, n * n, 1, scaled(u[2], edges));
    int64_t to = edge / n, from = edge % n;
    int64_t kind = scaled(u[3], NUM_ACTIVATIONS);
    g->order[node] = (g->order[from] + g->order[to]) / 2.0f;
    g->alive[node] = 1;
    g->activation[node] = kind < NUM_ACTIVATIONS ? kind : NUM_ACTIVATIONS - 1;
    g->enabled[to * n + from] = 0;
    g->enabled[node * n + from] = 1;
    g->enabled[to * n + node] = 1;
    g->weight[to * n + node] = g->weight[to * n + from];
    g->weight[node * n + from] = 1.0f;
}

static void delete_node(const Shape *s, Genome *g, const float *u) {
    int64_t n = s->nodes, hidden = n - s->inputs - s->outputs;
    const uint8_t *alive_hidden = g->alive + s->inputs;
    if (!(u[0] < s->rates[DELETE_NODE])) return;
    int64_t nodes = count_set(alive_hidden, hidden, 1);
    if (nodes == 0) return;
    int64_t node = s->inputs + nth_set(alive_hidden, hidden, 1, scaled(u[1], nodes));
    g->alive[node] = 0;
    for (int64_t i = 0; i < n; i++) g->enabled[node * n + i] = g->enabled[i * n + node] = 0;
}

/* Polynomial mutation of each connection's weight; u: one number per (to, from).
 * A draw u below the rate r mutates, and u / r (uniform again) draws the step. */
static void mutate_weights(const Shape *s, Genome *g, const float *u) {
    int64_t n = s->nodes;
    float range = s->weight_range, scale = fminf(s->weight_rate, 1.0f);
    for (int64_t i = 0; i < n * n; i++) {
        if (!g->enabled[i] || !(u[i] < s->weight_rate)) continue;
        float centred = u[i] / scale - 0.5f; /* as polynomial.polynomial_delta */
        float delta = 1.0f - powf(1.0f - 2.0f * fabsf(centred), s->exponent);
        float moved = copysignf(delta, centred) * (2.0f * range) + g->weight[i];
        g->weight[i] = fminf(fmaxf(moved, -range), range);
    }
}

/* A new activation function for some hidden and output nodes; u: one number per slot,
 * used as in mutate_weights. */
static void mutate_activations(const Shape *s, Genome *g, const float *u) {
    int64_t n = s->nodes;
    float scale = fminf(s->activation_rate, 1.0f);
    for (int64_t slot = s->inputs; slot < n; slot++) {
        if (!g->alive[slot] || !(u[slot] < s->activation_rate)) continue;
        int64_t kind = scaled(u[slot] / scale, NUM_ACTIVATIONS);
        g->activation[slot] = kind < NUM_ACTIVATIONS ? kind : NUM_ACTIVATIONS - 1;
    }
}

/* Mutate genomes [0, count) in place, each with its N^2 + N + STRUCTURE_DRAWS uniform numbers:
 * weights, activation functions, then the structural operators in order. */
int cppn_mutate(int64_t count, const Shape *s, const float *draws, float *weight,
                uint8_t *enabled, int64_t *activation, uint8_t *alive, float *order) {
    int64_t n = s->nodes;
    if (n > MAX_NODES) return 1;
    for (int64_t p = 0; p < count; p++) {
        Genome g = {weight + p * n * n, enabled + p * n * n, activation + p * n, alive + p * n,
                    order + p * n};
        const float *u = draws + p * (n * n + n + STRUCTURE_DRAWS);
        mutate_weights(s, &g, u);
        mutate_activations(s, &g, u + n * n);
        u += n * n + n;
        change_connection(s, &g, u);
        add_connection(s, &g, u + 4);
        delete_connection(s, &g, u + 7);
        add_node(s, &g, u + 9);
        delete_node(s, &g, u + 13);
    }
    return 0;
}

static void activate(int64_t kind, float *restrict v, int64_t n) {
    switch (kind) {
    case SINE:
        for (int64_t i = 0; i < n; i++) v[i] = sinf(v[i]);
        break;
    case SIGMOID: /* clamped: expf must neither overflow nor underflow (see the header) */
        for (int64_t i = 0; i < n; i++) v[i] = 1.0f / (1.0f + expf(-fminf(fmaxf(v[i], -80.0f), 80.0f)));
        break;
    case GAUSSIAN: /* capped as cppn.gaussian_ does, so no result is a slow denormal */
        for (int64_t i = 0; i < n; i++) v[i] = expf(-fminf(v[i] * v[i], 80.0f));
        break;
    default:
        break;
    }
}

/* An output value v as an image value: (clip(v, -1, 1) + 1) / 2, in [0, 1]. */
static float unit(float v) { return (fminf(fmaxf(v, -1.0f), 1.0f) + 1.0f) / 2.0f; }

/* A value rounded to the 256 levels a PNG stores, as records.quantize does; levels[k] is
 * k / 255 as PyTorch divides (fast-math would multiply by 1 / 255, which rounds otherwise). */
static float level(float v, const float *levels) {
    return levels[(int32_t)nearbyintf(fminf(fmaxf(v, 0.0f), 1.0f) * 255.0f)];
}

/* One genome's output rows as its image [outputs, pixels]: gray, or H, S, V to R, G, B
 * by color.hsv_to_rgb's formula; rounded to 8-bit levels unless `levels` is NULL. */
static void to_image(const Shape *s, int64_t pixels, const float *values, const float *levels,
                     float *restrict image) {
    if (s->outputs != 3) {
        for (int64_t i = 0; i < s->outputs * pixels; i++) image[i] = unit(values[i]);
    } else {
        static const float k[3] = {5.0f, 3.0f, 1.0f};
        for (int c = 0; c < 3; c++)
            for (int64_t i = 0; i < pixels; i++) {
                float h = unit(values[i]), sat = unit(values[pixels + i]);
                /* x mod 6 as torch's % computes it; where fast-math's x / 6 puts the floor one
                 * off (x within rounding of 6 or 12), t is near 0 or 6 and the ramp 0 anyway */
                float x = k[c] + h * 6.0f, t = x - floorf(x / 6.0f) * 6.0f;
                float ramp = fminf(fmaxf(fminf(t, 4.0f - t), 0.0f), 1.0f);
                image[c * pixels + i] = unit(values[2 * pixels + i]) * (1.0f - sat * ramp);
            }
    }
    if (levels) /* apart, so that both loops vectorise */
        for (int64_t i = 0; i < s->outputs * pixels; i++) image[i] = level(image[i], levels);
}

/* Render genomes [first, first + count) into images [P, outputs, pixels].
 * inputs: [s->inputs, pixels]; scratch: [N, pixels], this call's own.
 * Images are as cppn.CPPNEncoding.render makes them (three outputs are H, S, V),
 * rounded to 8-bit levels unless `levels` (see `level`) is NULL.
 * A connection from a node not yet evaluated (only in a corrupt genome) adds
 * nothing, as in the PyTorch code. */
int cppn_render(int64_t first, int64_t count, const Shape *s, int64_t pixels, const float *levels,
                const float *weight, const uint8_t *enabled, const int64_t *activation,
                const uint8_t *alive, const float *order, const float *inputs, float *scratch,
                float *images) {
    int64_t n = s->nodes;
    if (n > MAX_NODES) return 1;
    const float *value[MAX_NODES];
    int64_t sorted[MAX_NODES];
    for (int64_t p = first; p < first + count; p++) {
        const float *w = weight + p * n * n, *o = order + p * n;
        const uint8_t *e = enabled + p * n * n, *a = alive + p * n;
        int64_t used = 0; /* alive non-input slots, stably sorted by order */
        for (int64_t slot = s->inputs; slot < n; slot++) {
            if (!a[slot]) continue;
            int64_t k = used++;
            for (; k > 0 && o[sorted[k - 1]] > o[slot]; k--) sorted[k] = sorted[k - 1];
            sorted[k] = slot;
        }
        for (int64_t slot = 0; slot < n; slot++)
            value[slot] = slot < s->inputs ? inputs + slot * pixels : NULL;
        for (int64_t k = 0; k < used; k++) {
            int64_t slot = sorted[k];
            float *restrict sum = scratch + slot * pixels;
            int64_t terms = 0;
            for (int64_t from = 0; from < n; from++) {
                if (!e[slot * n + from] || value[from] == NULL) continue;
                const float *restrict source = value[from];
                float w_from = w[slot * n + from];
                if (terms++ == 0)
                    for (int64_t i = 0; i < pixels; i++) sum[i] = w_from * source[i];
                else
                    for (int64_t i = 0; i < pixels; i++) sum[i] += w_from * source[i];
            }
            if (terms == 0) memset(sum, 0, pixels * sizeof(float));
            activate(activation[p * n + slot], sum, pixels);
            value[slot] = sum;
        }
        to_image(s, pixels, scratch + (n - s->outputs) * pixels, levels,
                 images + p * s->outputs * pixels);
    }
    return 0;
}
