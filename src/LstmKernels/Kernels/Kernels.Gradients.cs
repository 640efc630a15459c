using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LstmKernels.Internal;

namespace LstmKernels;

public static partial class Kernels
{
    /// <summary>
    /// Accumulates a weight gradient, batched over every row of <paramref name="dGates"/> (batch rows, and time
    /// steps when the rows of several steps are contiguous):
    /// <c>weightGradient[r, k] += Σ_b dGates[b, r]·input[b, k]</c>, i.e. <c>dW += dZᵀ·X</c>.
    /// </summary>
    /// <param name="hiddenSize">H (at least 1); the gradient has 4H rows.</param>
    /// <param name="dGates">∂L/∂z <c>[N, 4H]</c>; its length sets N.</param>
    /// <param name="input">What the weights multiplied in the forward pass, <c>[N, K]</c>: x for WeightIh, hPrev for WeightHh.</param>
    /// <param name="weightGradient">The gradient <c>[4H, K]</c>, accumulated (+=); its length sets K. Must not overlap an input.</param>
    /// <remarks>
    /// Register tiles of 4 gradient rows × 2 vectors of columns, summed over all N rows in one pass, so the
    /// gradient is read and written once per call. Each element is within (N + 2)·2⁻²⁴·(|initial| + Σ|dz·x|) of
    /// the exact value.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit the shapes above, or the gradient overlaps an input.</exception>
    public static void AccumulateWeightGradient(int hiddenSize, ReadOnlySpan<float> dGates, ReadOnlySpan<float> input, Span<float> weightGradient)
    {
        _ = CheckWeightGradient(hiddenSize, dGates, input, weightGradient);
        AccumulateWeightGradientUnchecked(hiddenSize, dGates, input, weightGradient);
    }

    /// <summary><see cref="AccumulateWeightGradient"/> without its checks, for internal callers that checked their arguments once (the layers, the trainers).</summary>
    internal static void AccumulateWeightGradientUnchecked(int hiddenSize, ReadOnlySpan<float> dGates, ReadOnlySpan<float> input, Span<float> weightGradient)
    {
        int rows = 4 * hiddenSize;
        int rowsN = dGates.Length / rows, k = weightGradient.Length / rows;
        Debug.Assert(dGates.Length == rowsN * rows && weightGradient.Length == rows * k && input.Length == (long)rowsN * k);
        var action = new GemmAction { M = rows, N = k, P = rowsN, A = dGates, Sam = 1, Sap = rows, B = input, C = weightGradient };
        SimdDispatch.RunVector(ref action);
    }

    /// <summary>
    /// Accumulates the bias gradient over every row of <paramref name="dGates"/>: <c>biasGradient[r] += Σ_b dGates[b, r]</c>.
    /// </summary>
    /// <param name="dGates">∂L/∂z <c>[N, 4H]</c>.</param>
    /// <param name="biasGradient">The gradient <c>[4H]</c>, accumulated (+=); its length sets H. Must not overlap <paramref name="dGates"/>.</param>
    /// <remarks>Each element is within (N + 2)·2⁻²⁴·(|initial| + Σ|dz|) of the exact value.</remarks>
    /// <exception cref="ArgumentException">A length does not fit, or the spans overlap.</exception>
    public static void AccumulateBiasGradient(ReadOnlySpan<float> dGates, Span<float> biasGradient)
    {
        CheckBiasGradient(dGates, biasGradient);
        AccumulateBiasGradientUnchecked(dGates, biasGradient);
    }

    /// <summary><see cref="AccumulateBiasGradient"/> without its checks, for internal callers that checked their arguments once (the layers, the trainers).</summary>
    internal static void AccumulateBiasGradientUnchecked(ReadOnlySpan<float> dGates, Span<float> biasGradient)
    {
        Debug.Assert(biasGradient.Length > 0 && dGates.Length % biasGradient.Length == 0);
        var action = new BiasGradientAction { DGates = dGates, BiasGradient = biasGradient };
        SimdDispatch.RunVector(ref action);
    }

    /// <summary>
    /// The transposed gate projection, accumulated: <c>inputGradient[b, k] += Σ_r dGates[b, r]·weight[r, k]</c>, i.e.
    /// <c>dX += dZ·W</c>. With <c>WeightIh</c> it gives ∂L/∂x, with <c>WeightHh</c> ∂L/∂hPrev.
    /// </summary>
    /// <param name="hiddenSize">H (at least 1); the weight has 4H rows.</param>
    /// <param name="dGates">∂L/∂z <c>[B, 4H]</c>; its length sets B.</param>
    /// <param name="weight">The weights of the forward projection <c>[4H, K]</c>; its length sets K.</param>
    /// <param name="inputGradient">The gradient <c>[B, K]</c>, accumulated (+=). Must not overlap an input.</param>
    /// <remarks>
    /// Register tiles of up to 4 batch rows × 2 vectors of columns walk the weight rows once per tile. Each element is
    /// within (4H + 2)·2⁻²⁴·(|initial| + Σ|dz·w|) of the exact value.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit the shapes above, or the input gradient overlaps an input.</exception>
    public static void AccumulateInputGradient(int hiddenSize, ReadOnlySpan<float> dGates, ReadOnlySpan<float> weight, Span<float> inputGradient)
    {
        _ = CheckInputGradient(hiddenSize, dGates, weight, inputGradient);
        AccumulateInputGradientUnchecked(hiddenSize, dGates, weight, inputGradient);
    }

    /// <summary><see cref="AccumulateInputGradient"/> without its checks, for internal callers that checked their arguments once (the layers, the trainers).</summary>
    internal static void AccumulateInputGradientUnchecked(int hiddenSize, ReadOnlySpan<float> dGates, ReadOnlySpan<float> weight, Span<float> inputGradient)
    {
        int rows = 4 * hiddenSize;
        int batch = dGates.Length / rows, k = weight.Length / rows;
        Debug.Assert(dGates.Length == batch * rows && weight.Length == rows * k && inputGradient.Length == (long)batch * k);
        var action = new GemmAction { M = batch, N = k, P = rows, A = dGates, Sam = rows, Sap = 1, B = weight, C = inputGradient };
        SimdDispatch.RunVector(ref action);
    }

    /// <summary>
    /// <c>c[i, j] += Σ_p a(i, p)·b[p, j]</c> with <c>a(i, p) = a[i·sam + p·sap]</c>, b <c>[P, N]</c> and c <c>[M, N]</c>
    /// row-major, for internal callers whose products have other row counts than 4H (the projection's
    /// <c>dW_hr += dHᵀ·M</c> and <c>dM = dH·W_hr</c> in training). No checks.
    /// </summary>
    internal static void GemmAccumulateUnchecked(int m, int n, int p, ReadOnlySpan<float> a, int sam, int sap, ReadOnlySpan<float> b, Span<float> c)
    {
        Debug.Assert(b.Length == (long)p * n && c.Length == (long)m * n);
        if (m == 0 || n == 0 || p == 0)
        {
            return;
        }

        var action = new GemmAction { M = m, N = n, P = p, A = a, Sam = sam, Sap = sap, B = b, C = c };
        SimdDispatch.RunVector(ref action);
    }

    // ------------------------------------------------------------------ checks (shared with the twins)

    internal static (int Rows, int Columns) CheckWeightGradient(int hiddenSize, ReadOnlySpan<float> dGates, ReadOnlySpan<float> input, Span<float> weightGradient)
    {
        int rows = ThrowHelper.GateRows(hiddenSize, dGates.Length, nameof(dGates), "rows of 4·hiddenSize gate gradients");
        int columns = ThrowHelper.GateRows(hiddenSize, weightGradient.Length, nameof(weightGradient), "[4H, K]");
        ThrowHelper.CheckLength(input.Length, (long)rows * columns, nameof(input), "[N, K] with N = dGates.Length / 4H, K = weightGradient.Length / 4H");
        Aliasing.Disjoint(weightGradient, dGates, nameof(weightGradient), nameof(dGates));
        Aliasing.Disjoint(weightGradient, input, nameof(weightGradient), nameof(input));
        return (rows, columns);
    }

    internal static void CheckBiasGradient(ReadOnlySpan<float> dGates, Span<float> biasGradient)
    {
        if (biasGradient.Length == 0 || biasGradient.Length % 4 != 0)
        {
            ThrowHelper.NotMultiple(nameof(biasGradient), biasGradient.Length, 4, "4·H values with H ≥ 1");
        }

        if (dGates.Length % biasGradient.Length != 0)
        {
            ThrowHelper.NotMultiple(nameof(dGates), dGates.Length, biasGradient.Length, "rows of 4H with H = biasGradient.Length / 4");
        }

        Aliasing.Disjoint(biasGradient, dGates, nameof(biasGradient), nameof(dGates));
    }

    internal static (int Batch, int Columns) CheckInputGradient(int hiddenSize, ReadOnlySpan<float> dGates, ReadOnlySpan<float> weight, Span<float> inputGradient)
    {
        int batch = ThrowHelper.GateRows(hiddenSize, dGates.Length, nameof(dGates), "rows of 4·hiddenSize gate gradients");
        int columns = ThrowHelper.GateRows(hiddenSize, weight.Length, nameof(weight), "[4H, K]");
        ThrowHelper.CheckLength(inputGradient.Length, (long)batch * columns, nameof(inputGradient), "[B, K] with B = dGates.Length / 4H, K = weight.Length / 4H");
        Aliasing.Disjoint(inputGradient, dGates, nameof(inputGradient), nameof(dGates));
        Aliasing.Disjoint(inputGradient, weight, nameof(inputGradient), nameof(weight));
        return (batch, columns);
    }

    // ------------------------------------------------------------------ C += op(A)·B

    /// <summary>The arguments of <see cref="GemmAccumulate"/>, as spans (the refs are taken inside).</summary>
    private ref struct GemmAction : IVectorAction
    {
        public int M;
        public int N;
        public int P;
        public ReadOnlySpan<float> A;
        public int Sam;
        public int Sap;
        public ReadOnlySpan<float> B;
        public Span<float> C;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Run<TOps, TVec>()
            where TOps : struct, ISimd<TVec>
            where TVec : struct => GemmAccumulate<TOps, TVec>(
            M, N, P, ref MemoryMarshal.GetReference(A), Sam, Sap, ref MemoryMarshal.GetReference(B), ref MemoryMarshal.GetReference(C));
    }

    private ref struct BiasGradientAction : IVectorAction
    {
        public ReadOnlySpan<float> DGates;
        public Span<float> BiasGradient;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Run<TOps, TVec>()
            where TOps : struct, ISimd<TVec>
            where TVec : struct => BiasGradientCore<TOps, TVec>(DGates, BiasGradient);
    }

    /// <summary>
    /// <c>C[i, j] += Σ_p A(i, p)·B[p, j]</c> with <c>A(i, p) = a[i·sam + p·sap]</c>, B <c>[P, N]</c> and C <c>[M, N]</c>
    /// row-major. Both backward products are this shape: dW += dZᵀ·X (sam 1, sap 4H) and dX += dZ·W (sam 4H, sap 1).
    /// </summary>
    [SkipLocalsInit]
    private static void GemmAccumulate<TOps, TVec>(int m, int n, int p, ref float a, int sam, int sap, ref float b, ref float c)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        int w = TOps.Count;
        int i = 0;

        // Four rows of C at a time: every loaded vector of B feeds four fmas.
        for (; i <= m - 4; i += 4)
        {
            ref float a0 = ref Unsafe.Add(ref a, i * sam);
            ref float a1 = ref Unsafe.Add(ref a0, sam);
            ref float a2 = ref Unsafe.Add(ref a1, sam);
            ref float a3 = ref Unsafe.Add(ref a2, sam);
            ref float c0 = ref Unsafe.Add(ref c, i * n);
            ref float c1 = ref Unsafe.Add(ref c0, n);
            ref float c2 = ref Unsafe.Add(ref c1, n);
            ref float c3 = ref Unsafe.Add(ref c2, n);
            int j = 0;
            for (; j <= n - (2 * w); j += 2 * w)
            {
                TVec s00 = TOps.Load(ref Unsafe.Add(ref c0, j)), s01 = TOps.Load(ref Unsafe.Add(ref c0, j + w));
                TVec s10 = TOps.Load(ref Unsafe.Add(ref c1, j)), s11 = TOps.Load(ref Unsafe.Add(ref c1, j + w));
                TVec s20 = TOps.Load(ref Unsafe.Add(ref c2, j)), s21 = TOps.Load(ref Unsafe.Add(ref c2, j + w));
                TVec s30 = TOps.Load(ref Unsafe.Add(ref c3, j)), s31 = TOps.Load(ref Unsafe.Add(ref c3, j + w));
                ref float bj = ref Unsafe.Add(ref b, j);
                for (int k = 0; k < p; k++)
                {
                    ref float bk = ref Unsafe.Add(ref bj, k * n);
                    TVec b0 = TOps.Load(ref bk);
                    TVec b1 = TOps.Load(ref Unsafe.Add(ref bk, w));
                    int ak = k * sap;
                    TVec x0 = TOps.Create(Unsafe.Add(ref a0, ak));
                    TVec x1 = TOps.Create(Unsafe.Add(ref a1, ak));
                    TVec x2 = TOps.Create(Unsafe.Add(ref a2, ak));
                    TVec x3 = TOps.Create(Unsafe.Add(ref a3, ak));
                    s00 = TOps.MultiplyAdd(x0, b0, s00);
                    s01 = TOps.MultiplyAdd(x0, b1, s01);
                    s10 = TOps.MultiplyAdd(x1, b0, s10);
                    s11 = TOps.MultiplyAdd(x1, b1, s11);
                    s20 = TOps.MultiplyAdd(x2, b0, s20);
                    s21 = TOps.MultiplyAdd(x2, b1, s21);
                    s30 = TOps.MultiplyAdd(x3, b0, s30);
                    s31 = TOps.MultiplyAdd(x3, b1, s31);
                }

                TOps.Store(s00, ref Unsafe.Add(ref c0, j));
                TOps.Store(s01, ref Unsafe.Add(ref c0, j + w));
                TOps.Store(s10, ref Unsafe.Add(ref c1, j));
                TOps.Store(s11, ref Unsafe.Add(ref c1, j + w));
                TOps.Store(s20, ref Unsafe.Add(ref c2, j));
                TOps.Store(s21, ref Unsafe.Add(ref c2, j + w));
                TOps.Store(s30, ref Unsafe.Add(ref c3, j));
                TOps.Store(s31, ref Unsafe.Add(ref c3, j + w));
            }

            for (; j < n; j++)
            {
                float s0 = Unsafe.Add(ref c0, j), s1 = Unsafe.Add(ref c1, j), s2 = Unsafe.Add(ref c2, j), s3 = Unsafe.Add(ref c3, j);
                for (int k = 0; k < p; k++)
                {
                    float bk = Unsafe.Add(ref b, (k * n) + j);
                    int ak = k * sap;
                    s0 = float.MultiplyAddEstimate(Unsafe.Add(ref a0, ak), bk, s0);
                    s1 = float.MultiplyAddEstimate(Unsafe.Add(ref a1, ak), bk, s1);
                    s2 = float.MultiplyAddEstimate(Unsafe.Add(ref a2, ak), bk, s2);
                    s3 = float.MultiplyAddEstimate(Unsafe.Add(ref a3, ak), bk, s3);
                }

                Unsafe.Add(ref c0, j) = s0;
                Unsafe.Add(ref c1, j) = s1;
                Unsafe.Add(ref c2, j) = s2;
                Unsafe.Add(ref c3, j) = s3;
            }
        }

        // One row at a time: four vectors of columns so that four fma chains are in flight.
        for (; i < m; i++)
        {
            ref float ai = ref Unsafe.Add(ref a, i * sam);
            ref float ci = ref Unsafe.Add(ref c, i * n);
            int j = 0;
            for (; j <= n - (4 * w); j += 4 * w)
            {
                TVec s0 = TOps.Load(ref Unsafe.Add(ref ci, j));
                TVec s1 = TOps.Load(ref Unsafe.Add(ref ci, j + w));
                TVec s2 = TOps.Load(ref Unsafe.Add(ref ci, j + (2 * w)));
                TVec s3 = TOps.Load(ref Unsafe.Add(ref ci, j + (3 * w)));
                ref float bj = ref Unsafe.Add(ref b, j);
                for (int k = 0; k < p; k++)
                {
                    ref float bk = ref Unsafe.Add(ref bj, k * n);
                    TVec x = TOps.Create(Unsafe.Add(ref ai, k * sap));
                    s0 = TOps.MultiplyAdd(x, TOps.Load(ref bk), s0);
                    s1 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref bk, w)), s1);
                    s2 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref bk, 2 * w)), s2);
                    s3 = TOps.MultiplyAdd(x, TOps.Load(ref Unsafe.Add(ref bk, 3 * w)), s3);
                }

                TOps.Store(s0, ref Unsafe.Add(ref ci, j));
                TOps.Store(s1, ref Unsafe.Add(ref ci, j + w));
                TOps.Store(s2, ref Unsafe.Add(ref ci, j + (2 * w)));
                TOps.Store(s3, ref Unsafe.Add(ref ci, j + (3 * w)));
            }

            for (; j <= n - w; j += w)
            {
                TVec s0 = TOps.Load(ref Unsafe.Add(ref ci, j));
                ref float bj = ref Unsafe.Add(ref b, j);
                for (int k = 0; k < p; k++)
                {
                    s0 = TOps.MultiplyAdd(TOps.Create(Unsafe.Add(ref ai, k * sap)), TOps.Load(ref Unsafe.Add(ref bj, k * n)), s0);
                }

                TOps.Store(s0, ref Unsafe.Add(ref ci, j));
            }

            for (; j < n; j++)
            {
                float s0 = Unsafe.Add(ref ci, j);
                for (int k = 0; k < p; k++)
                {
                    s0 = float.MultiplyAddEstimate(Unsafe.Add(ref ai, k * sap), Unsafe.Add(ref b, (k * n) + j), s0);
                }

                Unsafe.Add(ref ci, j) = s0;
            }
        }
    }

    [SkipLocalsInit]
    private static void BiasGradientCore<TOps, TVec>(ReadOnlySpan<float> dGates, Span<float> biasGradient)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        int w = TOps.Count;
        int r = biasGradient.Length;
        int n = dGates.Length / r;
        ref float rz = ref MemoryMarshal.GetReference(dGates);
        ref float rb = ref MemoryMarshal.GetReference(biasGradient);
        int j = 0;
        for (; j <= r - w; j += w)
        {
            TVec s = TOps.Load(ref Unsafe.Add(ref rb, j));
            for (int k = 0; k < n; k++)
            {
                s = TOps.Add(s, TOps.Load(ref Unsafe.Add(ref rz, (k * r) + j)));
            }

            TOps.Store(s, ref Unsafe.Add(ref rb, j));
        }

        for (; j < r; j++)
        {
            float s = Unsafe.Add(ref rb, j);
            for (int k = 0; k < n; k++)
            {
                s += Unsafe.Add(ref rz, (k * r) + j);
            }

            Unsafe.Add(ref rb, j) = s;
        }
    }
}
