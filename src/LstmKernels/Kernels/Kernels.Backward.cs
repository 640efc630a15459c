using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using LstmKernels.Internal;

namespace LstmKernels;

public static partial class Kernels
{
    /// <summary>
    /// The pointwise stage of a training forward step: as <see cref="LstmPointwise"/>, and also writes the gate
    /// activations that the backward pass needs: <c>activations = [σ(z_i), σ(z_f), tanh(z_g), σ(z_o)]</c> per row.
    /// </summary>
    /// <param name="hiddenSize">H, the number of hidden units (at least 1).</param>
    /// <param name="gates">Pre-activations <c>[B, 4H]</c>, each row in gate order i, f, g, o.</param>
    /// <param name="cPrev">The previous cell state <c>[B, H]</c>.</param>
    /// <param name="activations">The gate activations <c>[B, 4H]</c> (i, f, g, o); may be the same memory as <paramref name="gates"/>.</param>
    /// <param name="h">The new hidden state <c>[B, H]</c>; must not overlap any other argument.</param>
    /// <param name="c">The new cell state <c>[B, H]</c>; may be the same memory as <paramref name="cPrev"/>.</param>
    /// <remarks>
    /// <c>c = f⊙cPrev + i⊙g; h = o⊙tanh(c)</c> with the same operations as <see cref="LstmPointwise"/>, so h and c are
    /// bitwise those of <see cref="LstmPointwise"/> on the same path. The activations are those of
    /// <see cref="Sigmoid"/> and <see cref="Tanh"/>.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit <c>[B, 4H]</c> / <c>[B, H]</c>, or outputs overlap where not allowed.</exception>
    public static void LstmPointwiseTraining(
        int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> activations, Span<float> h, Span<float> c)
    {
        CheckPointwiseTraining(hiddenSize, gates, cPrev, activations, h, c);
        switch (ActivePath)
        {
            case SimdPath.Vector512: PointwiseTrainingCore<Panel512, Vector512<float>>(hiddenSize, gates, cPrev, activations, h, c); break;
            case SimdPath.Vector256: PointwiseTrainingCore<Panel256, Pair256>(hiddenSize, gates, cPrev, activations, h, c); break;
            case SimdPath.Vector128: PointwiseTrainingCore<Panel128, Quad128>(hiddenSize, gates, cPrev, activations, h, c); break;
            default: PointwiseTrainingCore<PanelScalar, Scalar16>(hiddenSize, gates, cPrev, activations, h, c); break;
        }
    }

    /// <summary>
    /// The backward pass of the pointwise stage, one fused loop: from the gradients of the new state
    /// (<paramref name="dh"/>, <paramref name="dc"/>) and the cached activations, the gradients of the gate
    /// pre-activations and of the previous cell state.
    /// </summary>
    /// <param name="hiddenSize">H, the number of hidden units (at least 1).</param>
    /// <param name="activations">The gate activations <c>[B, 4H]</c> (i, f, g, o) of the forward step (<see cref="LstmPointwiseTraining"/>).</param>
    /// <param name="cPrev">The previous cell state <c>[B, H]</c> of the forward step.</param>
    /// <param name="c">The new cell state <c>[B, H]</c> of the forward step.</param>
    /// <param name="dh">∂L/∂h of the new hidden state <c>[B, H]</c>.</param>
    /// <param name="dc">∂L/∂c of the new cell state <c>[B, H]</c> (from later steps; zeros at the last step).</param>
    /// <param name="dGates">∂L/∂z, the gradients of the pre-activations <c>[B, 4H]</c> (i, f, g, o); must not overlap any other argument.</param>
    /// <param name="dcPrev">∂L/∂cPrev <c>[B, H]</c>; may be the same memory as <paramref name="dc"/>.</param>
    /// <remarks>
    /// <para>With <c>τ = tanh(c)</c> and <c>δc = dc + dh⊙o⊙(1 − τ²)</c>:
    /// <c>dz_o = dh⊙τ⊙o⊙(1 − o)</c>, <c>dz_i = δc⊙g⊙i⊙(1 − i)</c>, <c>dz_f = δc⊙cPrev⊙f⊙(1 − f)</c>,
    /// <c>dz_g = δc⊙i⊙(1 − g²)</c>, <c>dcPrev = δc⊙f</c>. (The seed took <c>C_t</c> where <c>cPrev</c> belongs in
    /// dz_f and did not return dcPrev.)</para>
    /// <para>Each output is within 32·2⁻²⁴·(|dc| + |dh|)·(1 + |cPrev|) + 1e-37 of the exact value of the same float
    /// inputs (docs/training.md).</para>
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit <c>[B, 4H]</c> / <c>[B, H]</c>, or outputs overlap where not allowed.</exception>
    public static void LstmPointwiseBackward(
        int hiddenSize,
        ReadOnlySpan<float> activations,
        ReadOnlySpan<float> cPrev,
        ReadOnlySpan<float> c,
        ReadOnlySpan<float> dh,
        ReadOnlySpan<float> dc,
        Span<float> dGates,
        Span<float> dcPrev)
    {
        CheckPointwiseBackward(hiddenSize, activations, cPrev, c, dh, dc, dGates, dcPrev);
        switch (ActivePath)
        {
            case SimdPath.Vector512: PointwiseBackwardCore<Panel512, Vector512<float>>(hiddenSize, activations, cPrev, c, dh, dc, dGates, dcPrev); break;
            case SimdPath.Vector256: PointwiseBackwardCore<Panel256, Pair256>(hiddenSize, activations, cPrev, c, dh, dc, dGates, dcPrev); break;
            case SimdPath.Vector128: PointwiseBackwardCore<Panel128, Quad128>(hiddenSize, activations, cPrev, c, dh, dc, dGates, dcPrev); break;
            default: PointwiseBackwardCore<PanelScalar, Scalar16>(hiddenSize, activations, cPrev, c, dh, dc, dGates, dcPrev); break;
        }
    }

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
        (int rowsN, int k) = CheckWeightGradient(hiddenSize, dGates, input, weightGradient);
        int rows = 4 * hiddenSize;
        ref float a = ref MemoryMarshal.GetReference(dGates);
        ref float b = ref MemoryMarshal.GetReference(input);
        ref float cc = ref MemoryMarshal.GetReference(weightGradient);
        switch (ActivePath)
        {
            case SimdPath.Vector512: GemmAccumulate<Simd512, Vector512<float>>(rows, k, rowsN, ref a, 1, rows, ref b, ref cc); break;
            case SimdPath.Vector256: GemmAccumulate<Simd256, Vector256<float>>(rows, k, rowsN, ref a, 1, rows, ref b, ref cc); break;
            case SimdPath.Vector128: GemmAccumulate<Simd128, Vector128<float>>(rows, k, rowsN, ref a, 1, rows, ref b, ref cc); break;
            default: GemmAccumulate<SimdScalar, float>(rows, k, rowsN, ref a, 1, rows, ref b, ref cc); break;
        }
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
        switch (ActivePath)
        {
            case SimdPath.Vector512: BiasGradientCore<Simd512, Vector512<float>>(dGates, biasGradient); break;
            case SimdPath.Vector256: BiasGradientCore<Simd256, Vector256<float>>(dGates, biasGradient); break;
            case SimdPath.Vector128: BiasGradientCore<Simd128, Vector128<float>>(dGates, biasGradient); break;
            default: BiasGradientCore<SimdScalar, float>(dGates, biasGradient); break;
        }
    }

    /// <summary>
    /// The transposed gate projection, accumulated: <c>destination[b, k] += Σ_r dGates[b, r]·weight[r, k]</c>, i.e.
    /// <c>dX += dZ·W</c>. With <c>WeightIh</c> it gives ∂L/∂x, with <c>WeightHh</c> ∂L/∂hPrev.
    /// </summary>
    /// <param name="hiddenSize">H (at least 1); the weight has 4H rows.</param>
    /// <param name="dGates">∂L/∂z <c>[B, 4H]</c>; its length sets B.</param>
    /// <param name="weight">The weights of the forward projection <c>[4H, K]</c>; its length sets K.</param>
    /// <param name="destination">The gradient <c>[B, K]</c>, accumulated (+=). Must not overlap an input.</param>
    /// <remarks>
    /// Register tiles of up to 4 batch rows × 2 vectors of columns walk the weight rows once per tile. Each element is
    /// within (4H + 2)·2⁻²⁴·(|initial| + Σ|dz·w|) of the exact value.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit the shapes above, or the destination overlaps an input.</exception>
    public static void AccumulateInputGradient(int hiddenSize, ReadOnlySpan<float> dGates, ReadOnlySpan<float> weight, Span<float> destination)
    {
        (int batch, int k) = CheckInputGradient(hiddenSize, dGates, weight, destination);
        int rows = 4 * hiddenSize;
        ref float a = ref MemoryMarshal.GetReference(dGates);
        ref float b = ref MemoryMarshal.GetReference(weight);
        ref float cc = ref MemoryMarshal.GetReference(destination);
        switch (ActivePath)
        {
            case SimdPath.Vector512: GemmAccumulate<Simd512, Vector512<float>>(batch, k, rows, ref a, rows, 1, ref b, ref cc); break;
            case SimdPath.Vector256: GemmAccumulate<Simd256, Vector256<float>>(batch, k, rows, ref a, rows, 1, ref b, ref cc); break;
            case SimdPath.Vector128: GemmAccumulate<Simd128, Vector128<float>>(batch, k, rows, ref a, rows, 1, ref b, ref cc); break;
            default: GemmAccumulate<SimdScalar, float>(batch, k, rows, ref a, rows, 1, ref b, ref cc); break;
        }
    }

    /// <summary>
    /// One step of stochastic gradient descent with momentum (PyTorch's form):
    /// <c>velocity = momentum·velocity + gradient; parameters −= learningRate·velocity</c>; with momentum 0 (and an
    /// empty <paramref name="velocity"/>), plain SGD <c>parameters −= learningRate·gradient</c> as in the seed.
    /// </summary>
    /// <param name="learningRate">The step size.</param>
    /// <param name="momentum">μ in [0, 1).</param>
    /// <param name="gradient">The gradient.</param>
    /// <param name="velocity">The momentum buffer (zeros before the first step), same length as the gradient; may be empty when <paramref name="momentum"/> is 0.</param>
    /// <param name="parameters">The parameters, updated in place.</param>
    /// <remarks>Two fused multiply-adds per element: each result is within 2⁻²⁴ relative of the same formula in double, plus the carried velocity error.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">A rate is not finite, or momentum is outside [0, 1).</exception>
    /// <exception cref="ArgumentException">A length differs, or the spans overlap.</exception>
    public static void SgdUpdate(float learningRate, float momentum, ReadOnlySpan<float> gradient, Span<float> velocity, Span<float> parameters)
    {
        CheckSgd(learningRate, momentum, gradient, velocity, parameters);
        switch (ActivePath)
        {
            case SimdPath.Vector512: SgdCore<Simd512, Vector512<float>>(learningRate, momentum, gradient, velocity, parameters); break;
            case SimdPath.Vector256: SgdCore<Simd256, Vector256<float>>(learningRate, momentum, gradient, velocity, parameters); break;
            case SimdPath.Vector128: SgdCore<Simd128, Vector128<float>>(learningRate, momentum, gradient, velocity, parameters); break;
            default: SgdCore<SimdScalar, float>(learningRate, momentum, gradient, velocity, parameters); break;
        }
    }

    /// <summary>
    /// One Adam step (Kingma and Ba; PyTorch's form): <c>m = β₁m + (1 − β₁)g; v = β₂v + (1 − β₂)g²;
    /// p −= (lr / (1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + ε)</c>.
    /// </summary>
    /// <param name="learningRate">lr.</param>
    /// <param name="beta1">β₁ in [0, 1), e.g. 0.9.</param>
    /// <param name="beta2">β₂ in [0, 1), e.g. 0.999.</param>
    /// <param name="epsilon">ε &gt; 0, e.g. 1e-8.</param>
    /// <param name="step">t, the number of this step, from 1.</param>
    /// <param name="gradient">The gradient g.</param>
    /// <param name="m">The first-moment estimate (zeros before step 1), updated in place.</param>
    /// <param name="v">The second-moment estimate (zeros before step 1), updated in place.</param>
    /// <param name="parameters">The parameters p, updated in place.</param>
    /// <remarks>Each parameter's change is within 16·2⁻²⁴ relative of the same formula in double (docs/training.md).</remarks>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is out of range.</exception>
    /// <exception cref="ArgumentException">A length differs, or the spans overlap.</exception>
    public static void AdamUpdate(
        float learningRate, float beta1, float beta2, float epsilon, int step, ReadOnlySpan<float> gradient, Span<float> m, Span<float> v, Span<float> parameters)
    {
        CheckAdam(learningRate, beta1, beta2, epsilon, step, gradient, m, v, parameters);
        double bc1 = 1 - Math.Pow(beta1, step);
        double bc2 = Math.Sqrt(1 - Math.Pow(beta2, step));
        float stepSize = (float)(learningRate / bc1);
        float inverseBc2 = (float)(1 / bc2);
        switch (ActivePath)
        {
            case SimdPath.Vector512: AdamCore<Simd512, Vector512<float>, Sqrt512>(stepSize, inverseBc2, beta1, beta2, epsilon, gradient, m, v, parameters); break;
            case SimdPath.Vector256: AdamCore<Simd256, Vector256<float>, Sqrt256>(stepSize, inverseBc2, beta1, beta2, epsilon, gradient, m, v, parameters); break;
            case SimdPath.Vector128: AdamCore<Simd128, Vector128<float>, Sqrt128>(stepSize, inverseBc2, beta1, beta2, epsilon, gradient, m, v, parameters); break;
            default: AdamCore<SimdScalar, float, SqrtScalar>(stepSize, inverseBc2, beta1, beta2, epsilon, gradient, m, v, parameters); break;
        }
    }

    // ------------------------------------------------------------------ checks (shared with the twins)

    internal static void CheckPointwiseTraining(
        int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> activations, Span<float> h, Span<float> c)
    {
        _ = ThrowHelper.GateRows(hiddenSize, gates.Length, nameof(gates), "rows of 4·hiddenSize pre-activations");

        long batchTimesH = gates.Length / 4;
        ThrowHelper.CheckLength(activations.Length, gates.Length, nameof(activations), "[B, 4H], one per pre-activation");
        ThrowHelper.CheckLength(cPrev.Length, batchTimesH, nameof(cPrev), "[B, H] with B from 'gates'");
        ThrowHelper.CheckLength(h.Length, batchTimesH, nameof(h), "[B, H] with B from 'gates'");
        ThrowHelper.CheckLength(c.Length, batchTimesH, nameof(c), "[B, H] with B from 'gates'");
        Aliasing.AllowExactOnly(activations, gates, nameof(activations), nameof(gates));
        Aliasing.Disjoint(activations, cPrev, nameof(activations), nameof(cPrev));
        Aliasing.Disjoint(h, gates, nameof(h), nameof(gates));
        Aliasing.Disjoint(h, activations, nameof(h), nameof(activations));
        Aliasing.Disjoint(h, cPrev, nameof(h), nameof(cPrev));
        Aliasing.Disjoint(h, c, nameof(h), nameof(c));
        Aliasing.Disjoint(c, gates, nameof(c), nameof(gates));
        Aliasing.Disjoint(c, activations, nameof(c), nameof(activations));
        Aliasing.AllowExactOnly(c, cPrev, nameof(c), nameof(cPrev));
    }

    internal static void CheckPointwiseBackward(
        int hiddenSize,
        ReadOnlySpan<float> activations,
        ReadOnlySpan<float> cPrev,
        ReadOnlySpan<float> c,
        ReadOnlySpan<float> dh,
        ReadOnlySpan<float> dc,
        Span<float> dGates,
        Span<float> dcPrev)
    {
        _ = ThrowHelper.GateRows(hiddenSize, activations.Length, nameof(activations), "rows of 4·hiddenSize activations");

        long batchTimesH = activations.Length / 4;
        const string State = "[B, H] with B from 'activations'";
        ThrowHelper.CheckLength(cPrev.Length, batchTimesH, nameof(cPrev), State);
        ThrowHelper.CheckLength(c.Length, batchTimesH, nameof(c), State);
        ThrowHelper.CheckLength(dh.Length, batchTimesH, nameof(dh), State);
        ThrowHelper.CheckLength(dc.Length, batchTimesH, nameof(dc), State);
        ThrowHelper.CheckLength(dGates.Length, activations.Length, nameof(dGates), "[B, 4H], one per activation");
        ThrowHelper.CheckLength(dcPrev.Length, batchTimesH, nameof(dcPrev), State);
        Aliasing.Disjoint(dGates, activations, nameof(dGates), nameof(activations));
        Aliasing.Disjoint(dGates, cPrev, nameof(dGates), nameof(cPrev));
        Aliasing.Disjoint(dGates, c, nameof(dGates), nameof(c));
        Aliasing.Disjoint(dGates, dh, nameof(dGates), nameof(dh));
        Aliasing.Disjoint(dGates, dc, nameof(dGates), nameof(dc));
        Aliasing.Disjoint(dGates, dcPrev, nameof(dGates), nameof(dcPrev));
        Aliasing.Disjoint(dcPrev, activations, nameof(dcPrev), nameof(activations));
        Aliasing.Disjoint(dcPrev, cPrev, nameof(dcPrev), nameof(cPrev));
        Aliasing.Disjoint(dcPrev, c, nameof(dcPrev), nameof(c));
        Aliasing.Disjoint(dcPrev, dh, nameof(dcPrev), nameof(dh));
        Aliasing.AllowExactOnly(dcPrev, dc, nameof(dcPrev), nameof(dc));
    }

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

    internal static (int Batch, int Columns) CheckInputGradient(int hiddenSize, ReadOnlySpan<float> dGates, ReadOnlySpan<float> weight, Span<float> destination)
    {
        int batch = ThrowHelper.GateRows(hiddenSize, dGates.Length, nameof(dGates), "rows of 4·hiddenSize gate gradients");
        int columns = ThrowHelper.GateRows(hiddenSize, weight.Length, nameof(weight), "[4H, K]");
        ThrowHelper.CheckLength(destination.Length, (long)batch * columns, nameof(destination), "[B, K] with B = dGates.Length / 4H, K = weight.Length / 4H");
        Aliasing.Disjoint(destination, dGates, nameof(destination), nameof(dGates));
        Aliasing.Disjoint(destination, weight, nameof(destination), nameof(weight));
        return (batch, columns);
    }

    internal static void CheckSgd(float learningRate, float momentum, ReadOnlySpan<float> gradient, Span<float> velocity, Span<float> parameters)
    {
        if (!float.IsFinite(learningRate))
        {
            ThrowHelper.OutOfRange(nameof(learningRate), learningRate, "must be finite");
        }

        if (!(momentum >= 0 && momentum < 1))
        {
            ThrowHelper.OutOfRange(nameof(momentum), momentum, "must be in [0, 1)");
        }

        ThrowHelper.CheckLength(gradient.Length, parameters.Length, nameof(gradient), "one per parameter");
        if (momentum != 0 || !velocity.IsEmpty)
        {
            ThrowHelper.CheckLength(velocity.Length, parameters.Length, nameof(velocity), "one per parameter (empty only with momentum 0)");
        }

        Aliasing.Disjoint(parameters, gradient, nameof(parameters), nameof(gradient));
        Aliasing.Disjoint(parameters, velocity, nameof(parameters), nameof(velocity));
        Aliasing.Disjoint(velocity, gradient, nameof(velocity), nameof(gradient));
    }

    internal static void CheckAdam(
        float learningRate, float beta1, float beta2, float epsilon, int step, ReadOnlySpan<float> gradient, Span<float> m, Span<float> v, Span<float> parameters)
    {
        if (!float.IsFinite(learningRate))
        {
            ThrowHelper.OutOfRange(nameof(learningRate), learningRate, "must be finite");
        }

        if (!(beta1 >= 0 && beta1 < 1))
        {
            ThrowHelper.OutOfRange(nameof(beta1), beta1, "must be in [0, 1)");
        }

        if (!(beta2 >= 0 && beta2 < 1))
        {
            ThrowHelper.OutOfRange(nameof(beta2), beta2, "must be in [0, 1)");
        }

        if (!(epsilon > 0 && float.IsFinite(epsilon)))
        {
            ThrowHelper.OutOfRange(nameof(epsilon), epsilon, "must be positive and finite");
        }

        if (step < 1)
        {
            ThrowHelper.OutOfRange(nameof(step), step, "must be at least 1 (the first step is 1)");
        }

        ThrowHelper.CheckLength(gradient.Length, parameters.Length, nameof(gradient), "one per parameter");
        ThrowHelper.CheckLength(m.Length, parameters.Length, nameof(m), "one per parameter");
        ThrowHelper.CheckLength(v.Length, parameters.Length, nameof(v), "one per parameter");
        Aliasing.Disjoint(parameters, gradient, nameof(parameters), nameof(gradient));
        Aliasing.Disjoint(parameters, m, nameof(parameters), nameof(m));
        Aliasing.Disjoint(parameters, v, nameof(parameters), nameof(v));
        Aliasing.Disjoint(m, gradient, nameof(m), nameof(gradient));
        Aliasing.Disjoint(m, v, nameof(m), nameof(v));
        Aliasing.Disjoint(v, gradient, nameof(v), nameof(gradient));
    }

    // ------------------------------------------------------------------ pointwise forward with cache

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PointwiseTrainingPanel<TPanel, TP>(ref float z, int gateStride, ref float cPrev, ref float act, ref float h, ref float c)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        // The same operations, in the same order, as LstmPanel.Pointwise: h and c get the bits of LstmPointwise.
        TP i = TPanel.Sigmoid(TPanel.Load(ref z));
        TP f = TPanel.Sigmoid(TPanel.Load(ref Unsafe.Add(ref z, gateStride)));
        TP g = TPanel.Tanh(TPanel.Load(ref Unsafe.Add(ref z, 2 * gateStride)));
        TP o = TPanel.Sigmoid(TPanel.Load(ref Unsafe.Add(ref z, 3 * gateStride)));
        TP cv = TPanel.MultiplyAdd(f, TPanel.Load(ref cPrev), TPanel.Multiply(i, g));
        TPanel.Store(i, ref act);
        TPanel.Store(f, ref Unsafe.Add(ref act, gateStride));
        TPanel.Store(g, ref Unsafe.Add(ref act, 2 * gateStride));
        TPanel.Store(o, ref Unsafe.Add(ref act, 3 * gateStride));
        TPanel.Store(cv, ref c);
        TPanel.Store(TPanel.Multiply(o, TPanel.Tanh(cv)), ref h);
    }

    [SkipLocalsInit]
    private static void PointwiseTrainingCore<TPanel, TP>(
        int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> activations, Span<float> h, Span<float> c)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        const int W = PanelWidth.Value;
        int batch = cPrev.Length / hiddenSize;
        int full = hiddenSize - (hiddenSize % W);
        int rest = hiddenSize - full;

        // Tail panel: 4 gates in, 1 cPrev, 4 activations, c, h.
        Span<float> t = stackalloc float[11 * W];
        ref float rt = ref MemoryMarshal.GetReference(t);
        for (int b = 0; b < batch; b++)
        {
            ref float rz = ref Unsafe.Add(ref MemoryMarshal.GetReference(gates), b * 4 * hiddenSize);
            ref float ra = ref Unsafe.Add(ref MemoryMarshal.GetReference(activations), b * 4 * hiddenSize);
            ref float rp = ref Unsafe.Add(ref MemoryMarshal.GetReference(cPrev), b * hiddenSize);
            ref float rh = ref Unsafe.Add(ref MemoryMarshal.GetReference(h), b * hiddenSize);
            ref float rc = ref Unsafe.Add(ref MemoryMarshal.GetReference(c), b * hiddenSize);
            for (int j = 0; j < full; j += W)
            {
                PointwiseTrainingPanel<TPanel, TP>(
                    ref Unsafe.Add(ref rz, j), hiddenSize, ref Unsafe.Add(ref rp, j), ref Unsafe.Add(ref ra, j), ref Unsafe.Add(ref rh, j), ref Unsafe.Add(ref rc, j));
            }

            if (rest > 0)
            {
                t.Clear();
                ReadOnlySpan<float> z = gates.Slice(b * 4 * hiddenSize, 4 * hiddenSize);
                for (int gate = 0; gate < 4; gate++)
                {
                    z.Slice((gate * hiddenSize) + full, rest).CopyTo(t[(gate * W)..]);
                }

                cPrev.Slice((b * hiddenSize) + full, rest).CopyTo(t[(4 * W)..]);
                PointwiseTrainingPanel<TPanel, TP>(
                    ref rt, W, ref Unsafe.Add(ref rt, 4 * W), ref Unsafe.Add(ref rt, 5 * W), ref Unsafe.Add(ref rt, 10 * W), ref Unsafe.Add(ref rt, 9 * W));
                Span<float> a = activations.Slice(b * 4 * hiddenSize, 4 * hiddenSize);
                for (int gate = 0; gate < 4; gate++)
                {
                    t.Slice((5 + gate) * W, rest).CopyTo(a[((gate * hiddenSize) + full)..]);
                }

                t.Slice(9 * W, rest).CopyTo(c[((b * hiddenSize) + full)..]);
                t.Slice(10 * W, rest).CopyTo(h[((b * hiddenSize) + full)..]);
            }
        }
    }

    // ------------------------------------------------------------------ pointwise backward

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PointwiseBackwardPanel<TPanel, TP>(
        ref float act, int gateStride, ref float cPrev, ref float c, ref float dh, ref float dc, ref float dz, ref float dcPrev)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        TP one = TPanel.Broadcast(1f);
        TP minusOne = TPanel.Broadcast(-1f);
        TP i = TPanel.Load(ref act);
        TP f = TPanel.Load(ref Unsafe.Add(ref act, gateStride));
        TP g = TPanel.Load(ref Unsafe.Add(ref act, 2 * gateStride));
        TP o = TPanel.Load(ref Unsafe.Add(ref act, 3 * gateStride));
        TP cp = TPanel.Load(ref cPrev);
        TP dhv = TPanel.Load(ref dh);
        TP tc = TPanel.Tanh(TPanel.Load(ref c));

        // 1 − x as fma(x, −1, 1): exact for x in [0.5, 1] (Sterbenz), one rounding otherwise.
        TP oneMinusO = TPanel.MultiplyAdd(o, minusOne, one);
        TP oneMinusTc2 = TPanel.MultiplyAdd(TPanel.Multiply(tc, minusOne), tc, one);
        TP dct = TPanel.MultiplyAdd(TPanel.Multiply(dhv, o), oneMinusTc2, TPanel.Load(ref dc));
        TP dzo = TPanel.Multiply(TPanel.Multiply(dhv, tc), TPanel.Multiply(o, oneMinusO));
        TP dzi = TPanel.Multiply(TPanel.Multiply(dct, g), TPanel.Multiply(i, TPanel.MultiplyAdd(i, minusOne, one)));
        TP dzf = TPanel.Multiply(TPanel.Multiply(dct, cp), TPanel.Multiply(f, TPanel.MultiplyAdd(f, minusOne, one)));
        TP dzg = TPanel.Multiply(TPanel.Multiply(dct, i), TPanel.MultiplyAdd(TPanel.Multiply(g, minusOne), g, one));
        TPanel.Store(dzi, ref dz);
        TPanel.Store(dzf, ref Unsafe.Add(ref dz, gateStride));
        TPanel.Store(dzg, ref Unsafe.Add(ref dz, 2 * gateStride));
        TPanel.Store(dzo, ref Unsafe.Add(ref dz, 3 * gateStride));
        TPanel.Store(TPanel.Multiply(dct, f), ref dcPrev);
    }

    [SkipLocalsInit]
    private static void PointwiseBackwardCore<TPanel, TP>(
        int hiddenSize,
        ReadOnlySpan<float> activations,
        ReadOnlySpan<float> cPrev,
        ReadOnlySpan<float> c,
        ReadOnlySpan<float> dh,
        ReadOnlySpan<float> dc,
        Span<float> dGates,
        Span<float> dcPrev)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        const int W = PanelWidth.Value;
        int batch = cPrev.Length / hiddenSize;
        int full = hiddenSize - (hiddenSize % W);
        int rest = hiddenSize - full;

        // Tail panel: 4 activations, cPrev, c, dh, dc in (0..8W); 4 dz, dcPrev out (8W..13W).
        Span<float> t = stackalloc float[13 * W];
        ref float rt = ref MemoryMarshal.GetReference(t);
        for (int b = 0; b < batch; b++)
        {
            int g4 = b * 4 * hiddenSize;
            int s = b * hiddenSize;
            ref float ra = ref Unsafe.Add(ref MemoryMarshal.GetReference(activations), g4);
            ref float rz = ref Unsafe.Add(ref MemoryMarshal.GetReference(dGates), g4);
            ref float rp = ref Unsafe.Add(ref MemoryMarshal.GetReference(cPrev), s);
            ref float rc = ref Unsafe.Add(ref MemoryMarshal.GetReference(c), s);
            ref float rdh = ref Unsafe.Add(ref MemoryMarshal.GetReference(dh), s);
            ref float rdc = ref Unsafe.Add(ref MemoryMarshal.GetReference(dc), s);
            ref float rdp = ref Unsafe.Add(ref MemoryMarshal.GetReference(dcPrev), s);
            for (int j = 0; j < full; j += W)
            {
                PointwiseBackwardPanel<TPanel, TP>(
                    ref Unsafe.Add(ref ra, j),
                    hiddenSize,
                    ref Unsafe.Add(ref rp, j),
                    ref Unsafe.Add(ref rc, j),
                    ref Unsafe.Add(ref rdh, j),
                    ref Unsafe.Add(ref rdc, j),
                    ref Unsafe.Add(ref rz, j),
                    ref Unsafe.Add(ref rdp, j));
            }

            if (rest > 0)
            {
                t.Clear();
                ReadOnlySpan<float> a = activations.Slice(g4, 4 * hiddenSize);
                for (int gate = 0; gate < 4; gate++)
                {
                    a.Slice((gate * hiddenSize) + full, rest).CopyTo(t[(gate * W)..]);
                }

                cPrev.Slice(s + full, rest).CopyTo(t[(4 * W)..]);
                c.Slice(s + full, rest).CopyTo(t[(5 * W)..]);
                dh.Slice(s + full, rest).CopyTo(t[(6 * W)..]);
                dc.Slice(s + full, rest).CopyTo(t[(7 * W)..]);
                PointwiseBackwardPanel<TPanel, TP>(
                    ref rt,
                    W,
                    ref Unsafe.Add(ref rt, 4 * W),
                    ref Unsafe.Add(ref rt, 5 * W),
                    ref Unsafe.Add(ref rt, 6 * W),
                    ref Unsafe.Add(ref rt, 7 * W),
                    ref Unsafe.Add(ref rt, 8 * W),
                    ref Unsafe.Add(ref rt, 12 * W));
                Span<float> z = dGates.Slice(g4, 4 * hiddenSize);
                for (int gate = 0; gate < 4; gate++)
                {
                    t.Slice((8 + gate) * W, rest).CopyTo(z[((gate * hiddenSize) + full)..]);
                }

                t.Slice(12 * W, rest).CopyTo(dcPrev[(s + full)..]);
            }
        }
    }

    // ------------------------------------------------------------------ C += op(A)·B

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

    // ------------------------------------------------------------------ optimizers

    [SkipLocalsInit]
    private static void SgdCore<TOps, TVec>(float learningRate, float momentum, ReadOnlySpan<float> gradient, Span<float> velocity, Span<float> parameters)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        int w = TOps.Count;
        int n = parameters.Length;
        ref float rg = ref MemoryMarshal.GetReference(gradient);
        ref float rp = ref MemoryMarshal.GetReference(parameters);
        TVec minusRate = TOps.Create(-learningRate);
        int k = 0;
        if (velocity.IsEmpty)
        {
            for (; k <= n - w; k += w)
            {
                TOps.Store(TOps.MultiplyAdd(minusRate, TOps.Load(ref Unsafe.Add(ref rg, k)), TOps.Load(ref Unsafe.Add(ref rp, k))), ref Unsafe.Add(ref rp, k));
            }

            for (; k < n; k++)
            {
                Unsafe.Add(ref rp, k) = float.MultiplyAddEstimate(-learningRate, Unsafe.Add(ref rg, k), Unsafe.Add(ref rp, k));
            }

            return;
        }

        ref float rv = ref MemoryMarshal.GetReference(velocity);
        TVec mu = TOps.Create(momentum);
        for (; k <= n - w; k += w)
        {
            TVec vel = TOps.MultiplyAdd(mu, TOps.Load(ref Unsafe.Add(ref rv, k)), TOps.Load(ref Unsafe.Add(ref rg, k)));
            TOps.Store(vel, ref Unsafe.Add(ref rv, k));
            TOps.Store(TOps.MultiplyAdd(minusRate, vel, TOps.Load(ref Unsafe.Add(ref rp, k))), ref Unsafe.Add(ref rp, k));
        }

        for (; k < n; k++)
        {
            float vel = float.MultiplyAddEstimate(momentum, Unsafe.Add(ref rv, k), Unsafe.Add(ref rg, k));
            Unsafe.Add(ref rv, k) = vel;
            Unsafe.Add(ref rp, k) = float.MultiplyAddEstimate(-learningRate, vel, Unsafe.Add(ref rp, k));
        }
    }

    [SkipLocalsInit]
    private static void AdamCore<TOps, TVec, TSqrt>(
        float stepSize, float inverseBc2, float beta1, float beta2, float epsilon, ReadOnlySpan<float> gradient, Span<float> m, Span<float> v, Span<float> parameters)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
        where TSqrt : struct, IVectorSqrt<TVec>
    {
        int w = TOps.Count;
        int n = parameters.Length;
        ref float rg = ref MemoryMarshal.GetReference(gradient);
        ref float rm = ref MemoryMarshal.GetReference(m);
        ref float rv = ref MemoryMarshal.GetReference(v);
        ref float rp = ref MemoryMarshal.GetReference(parameters);
        TVec b1 = TOps.Create(beta1), c1 = TOps.Create(1 - beta1);
        TVec b2 = TOps.Create(beta2), c2 = TOps.Create(1 - beta2);
        TVec eps = TOps.Create(epsilon), ib2 = TOps.Create(inverseBc2), minusStep = TOps.Create(-stepSize);
        int k = 0;
        for (; k <= n - w; k += w)
        {
            TVec g = TOps.Load(ref Unsafe.Add(ref rg, k));
            TVec mv = TOps.MultiplyAdd(b1, TOps.Load(ref Unsafe.Add(ref rm, k)), TOps.Multiply(c1, g));
            TVec vv = TOps.MultiplyAdd(b2, TOps.Load(ref Unsafe.Add(ref rv, k)), TOps.Multiply(c2, TOps.Multiply(g, g)));
            TOps.Store(mv, ref Unsafe.Add(ref rm, k));
            TOps.Store(vv, ref Unsafe.Add(ref rv, k));
            TVec denominator = TOps.MultiplyAdd(TSqrt.Sqrt(vv), ib2, eps);
            TOps.Store(TOps.MultiplyAdd(minusStep, TOps.Divide(mv, denominator), TOps.Load(ref Unsafe.Add(ref rp, k))), ref Unsafe.Add(ref rp, k));
        }

        for (; k < n; k++)
        {
            float g = Unsafe.Add(ref rg, k);
            float mv = float.MultiplyAddEstimate(beta1, Unsafe.Add(ref rm, k), (1 - beta1) * g);
            float vv = float.MultiplyAddEstimate(beta2, Unsafe.Add(ref rv, k), (1 - beta2) * (g * g));
            Unsafe.Add(ref rm, k) = mv;
            Unsafe.Add(ref rv, k) = vv;
            float denominator = float.MultiplyAddEstimate(MathF.Sqrt(vv), inverseBc2, epsilon);
            Unsafe.Add(ref rp, k) = float.MultiplyAddEstimate(-stepSize, mv / denominator, Unsafe.Add(ref rp, k));
        }
    }

    private interface IVectorSqrt<TVec>
        where TVec : struct
    {
        static abstract TVec Sqrt(TVec x);
    }

    private readonly struct Sqrt512 : IVectorSqrt<Vector512<float>>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Sqrt(Vector512<float> x) => Vector512.Sqrt(x);
    }

    private readonly struct Sqrt256 : IVectorSqrt<Vector256<float>>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Sqrt(Vector256<float> x) => Vector256.Sqrt(x);
    }

    private readonly struct Sqrt128 : IVectorSqrt<Vector128<float>>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Sqrt(Vector128<float> x) => Vector128.Sqrt(x);
    }

    private readonly struct SqrtScalar : IVectorSqrt<float>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Sqrt(float x) => MathF.Sqrt(x);
    }
}
