using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LstmKernels.Internal;

namespace LstmKernels;

public static partial class Kernels
{
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
        var action = new SgdAction { LearningRate = learningRate, Momentum = momentum, Gradient = gradient, Velocity = velocity, Parameters = parameters };
        SimdDispatch.RunVector(ref action);
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
        var action = new AdamAction
        {
            StepSize = stepSize, InverseBc2 = inverseBc2, Beta1 = beta1, Beta2 = beta2, Epsilon = epsilon, Gradient = gradient, M = m, V = v, Parameters = parameters,
        };
        SimdDispatch.RunVector(ref action);
    }

    // ------------------------------------------------------------------ checks (shared with the twins)

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

    // ------------------------------------------------------------------ optimizers

    private ref struct SgdAction : IVectorAction
    {
        public float LearningRate;
        public float Momentum;
        public ReadOnlySpan<float> Gradient;
        public Span<float> Velocity;
        public Span<float> Parameters;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Run<TOps, TVec>()
            where TOps : struct, ISimd<TVec>
            where TVec : struct => SgdCore<TOps, TVec>(LearningRate, Momentum, Gradient, Velocity, Parameters);
    }

    private ref struct AdamAction : IVectorAction
    {
        public float StepSize;
        public float InverseBc2;
        public float Beta1;
        public float Beta2;
        public float Epsilon;
        public ReadOnlySpan<float> Gradient;
        public Span<float> M;
        public Span<float> V;
        public Span<float> Parameters;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Run<TOps, TVec>()
            where TOps : struct, ISimd<TVec>
            where TVec : struct => AdamCore<TOps, TVec>(StepSize, InverseBc2, Beta1, Beta2, Epsilon, Gradient, M, V, Parameters);
    }

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
    private static void AdamCore<TOps, TVec>(
        float stepSize, float inverseBc2, float beta1, float beta2, float epsilon, ReadOnlySpan<float> gradient, Span<float> m, Span<float> v, Span<float> parameters)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
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
            TVec denominator = TOps.MultiplyAdd(TOps.Sqrt(vv), ib2, eps);
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
}
