using LstmKernels.Internal;

namespace LstmKernels.Training;

/// <summary>
/// An update rule that applies a gradient to the parameters it was built for: one cell's <see cref="LstmParameters"/>
/// (<see cref="Update(LstmParameters)"/>) or a whole <see cref="LstmStackParameters"/> (<see cref="Update(LstmStackParameters)"/>).
/// </summary>
public interface IOptimizer
{
    /// <summary>Applies one update with <paramref name="gradient"/> (shaped like the parameters); zero allocation.</summary>
    /// <param name="gradient">The gradient; only read.</param>
    void Update(LstmParameters gradient);

    /// <summary>
    /// Applies one update with <paramref name="gradient"/>, shaped like the stack the optimizer was built for (what
    /// <see cref="LstmTrainer.Backward"/> accumulates); zero allocation. <see cref="SgdOptimizer"/> and
    /// <see cref="AdamOptimizer"/> built over an <see cref="LstmStackParameters"/> implement it; the default
    /// implementation, for optimizers written before stacks could be trained, throws.
    /// </summary>
    /// <param name="gradient">The gradient; only read.</param>
    /// <exception cref="NotSupportedException">The optimizer does not train stacks (the default implementation).</exception>
    void Update(LstmStackParameters gradient) =>
        throw new NotSupportedException($"{GetType().Name} does not implement IOptimizer.Update(LstmStackParameters): it trains one cell's LstmParameters only. Use SgdOptimizer or AdamOptimizer built over the LstmStackParameters, or implement that overload.");
}

/// <summary>
/// Stochastic gradient descent with optional momentum (PyTorch's form, <see cref="Kernels.SgdUpdate"/>):
/// <c>v = μ·v + g; p −= lr·v</c>; with μ = 0 the seed's <c>w −= lr·grad</c>. Built over one cell's
/// <see cref="LstmParameters"/> or over a whole <see cref="LstmStackParameters"/>; its gradient has the same type.
/// </summary>
public sealed class SgdOptimizer : IOptimizer
{
    private readonly LstmParameters? parameters;
    private readonly LstmParameters? velocity;
    private readonly LstmStackParameters? stack;
    private readonly float[]? stackVelocity;

    /// <summary>An optimizer for <paramref name="parameters"/>, updated in place.</summary>
    /// <param name="parameters">The weights to update.</param>
    /// <param name="learningRate">lr (finite).</param>
    /// <param name="momentum">μ in [0, 1); 0 for plain SGD (then no velocity is kept).</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A rate is out of range.</exception>
    public SgdOptimizer(LstmParameters parameters, float learningRate, float momentum = 0f)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Kernels.CheckSgd(learningRate, momentum, default, default, default);
        this.parameters = parameters;
        LearningRate = learningRate;
        Momentum = momentum;
        velocity = momentum == 0 ? null : new LstmParameters(parameters.InputSize, parameters.HiddenSize);
    }

    /// <summary>An optimizer for every tensor of <paramref name="parameters"/> (both biases with <see cref="LstmBiasMode.Separate"/>, as PyTorch's), updated in place.</summary>
    /// <param name="parameters">The weights to update.</param>
    /// <param name="learningRate">lr (finite).</param>
    /// <param name="momentum">μ in [0, 1); 0 for plain SGD (then no velocity is kept).</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A rate is out of range.</exception>
    public SgdOptimizer(LstmStackParameters parameters, float learningRate, float momentum = 0f)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Kernels.CheckSgd(learningRate, momentum, default, default, default);
        stack = parameters;
        LearningRate = learningRate;
        Momentum = momentum;
        stackVelocity = momentum == 0 ? null : new float[parameters.Values.Length];
    }

    /// <summary>lr; may be changed between steps (a schedule).</summary>
    public float LearningRate { get; set; }

    /// <summary>μ.</summary>
    public float Momentum { get; }

    /// <summary>Applies one update with <paramref name="gradient"/>, shaped like the stack this optimizer was built for; zero allocation.</summary>
    /// <param name="gradient">The gradient; only read.</param>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="gradient"/> has another layout than the parameters.</exception>
    /// <exception cref="InvalidOperationException">This optimizer was built for one cell's <see cref="LstmParameters"/> (use <see cref="Update(LstmParameters)"/>).</exception>
    public void Update(LstmStackParameters gradient)
    {
        Gradients.CheckSameLayout(stack, gradient, nameof(gradient));
        Kernels.SgdUpdate(LearningRate, Momentum, gradient.Values, stackVelocity, stack!.Values);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="gradient"/> has other sizes than the parameters.</exception>
    /// <exception cref="InvalidOperationException">This optimizer was built for an <see cref="LstmStackParameters"/> (use <see cref="Update(LstmStackParameters)"/>).</exception>
    public void Update(LstmParameters gradient)
    {
        Gradients.CheckSameShape(parameters, gradient, nameof(gradient));
        Kernels.SgdUpdate(LearningRate, Momentum, gradient.WeightIh, velocity is null ? default : velocity.WeightIh, parameters!.WeightIh);
        Kernels.SgdUpdate(LearningRate, Momentum, gradient.WeightHh, velocity is null ? default : velocity.WeightHh, parameters.WeightHh);
        Kernels.SgdUpdate(LearningRate, Momentum, gradient.Bias, velocity is null ? default : velocity.Bias, parameters.Bias);
    }
}

/// <summary>
/// Adam (<see cref="Kernels.AdamUpdate"/>), with its moment estimates shaped like the parameters: one cell's
/// <see cref="LstmParameters"/> or a whole <see cref="LstmStackParameters"/>.
/// </summary>
public sealed class AdamOptimizer : IOptimizer
{
    private readonly LstmParameters? parameters;
    private readonly LstmParameters? m;
    private readonly LstmParameters? v;
    private readonly LstmStackParameters? stack;
    private readonly float[]? stackM;
    private readonly float[]? stackV;

    /// <summary>An optimizer for <paramref name="parameters"/>, updated in place.</summary>
    /// <param name="parameters">The weights to update.</param>
    /// <param name="learningRate">lr, e.g. 1e-3.</param>
    /// <param name="beta1">β₁ in [0, 1).</param>
    /// <param name="beta2">β₂ in [0, 1).</param>
    /// <param name="epsilon">ε &gt; 0.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is out of range.</exception>
    public AdamOptimizer(LstmParameters parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Kernels.CheckAdam(learningRate, beta1, beta2, epsilon, 1, default, default, default, default);
        this.parameters = parameters;
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        m = new LstmParameters(parameters.InputSize, parameters.HiddenSize);
        v = new LstmParameters(parameters.InputSize, parameters.HiddenSize);
    }

    /// <summary>An optimizer for every tensor of <paramref name="parameters"/> (both biases with <see cref="LstmBiasMode.Separate"/>, as PyTorch's), updated in place.</summary>
    /// <param name="parameters">The weights to update.</param>
    /// <param name="learningRate">lr, e.g. 1e-3.</param>
    /// <param name="beta1">β₁ in [0, 1).</param>
    /// <param name="beta2">β₂ in [0, 1).</param>
    /// <param name="epsilon">ε &gt; 0.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is out of range.</exception>
    public AdamOptimizer(LstmStackParameters parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Kernels.CheckAdam(learningRate, beta1, beta2, epsilon, 1, default, default, default, default);
        stack = parameters;
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        stackM = new float[parameters.Values.Length];
        stackV = new float[parameters.Values.Length];
    }

    /// <summary>lr; may be changed between steps.</summary>
    public float LearningRate { get; set; }

    /// <summary>β₁.</summary>
    public float Beta1 { get; }

    /// <summary>β₂.</summary>
    public float Beta2 { get; }

    /// <summary>ε.</summary>
    public float Epsilon { get; }

    /// <summary>The number of steps taken (t of the last step).</summary>
    public int StepCount { get; private set; }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="gradient"/> has other sizes than the parameters.</exception>
    /// <exception cref="InvalidOperationException">This optimizer was built for an <see cref="LstmStackParameters"/> (use <see cref="Update(LstmStackParameters)"/>).</exception>
    public void Update(LstmParameters gradient)
    {
        Gradients.CheckSameShape(parameters, gradient, nameof(gradient));
        int t = StepCount + 1;
        Kernels.AdamUpdate(LearningRate, Beta1, Beta2, Epsilon, t, gradient.WeightIh, m!.WeightIh, v!.WeightIh, parameters!.WeightIh);
        Kernels.AdamUpdate(LearningRate, Beta1, Beta2, Epsilon, t, gradient.WeightHh, m.WeightHh, v.WeightHh, parameters.WeightHh);
        Kernels.AdamUpdate(LearningRate, Beta1, Beta2, Epsilon, t, gradient.Bias, m.Bias, v.Bias, parameters.Bias);
        StepCount = t;
    }

    /// <summary>Applies one update with <paramref name="gradient"/>, shaped like the stack this optimizer was built for; zero allocation.</summary>
    /// <param name="gradient">The gradient; only read.</param>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="gradient"/> has another layout than the parameters.</exception>
    /// <exception cref="InvalidOperationException">This optimizer was built for one cell's <see cref="LstmParameters"/> (use <see cref="Update(LstmParameters)"/>).</exception>
    public void Update(LstmStackParameters gradient)
    {
        Gradients.CheckSameLayout(stack, gradient, nameof(gradient));
        int t = StepCount + 1;
        Kernels.AdamUpdate(LearningRate, Beta1, Beta2, Epsilon, t, gradient.Values, stackM, stackV, stack!.Values);
        StepCount = t;
    }

    /// <summary>Forgets the moment estimates and the step count.</summary>
    public void Reset()
    {
        if (m is not null)
        {
            Gradients.Clear(m);
            Gradients.Clear(v!);
        }

        if (stackM is not null)
        {
            Array.Clear(stackM);
            Array.Clear(stackV!);
        }

        StepCount = 0;
    }
}

/// <summary>Helpers for gradients shaped like <see cref="LstmParameters"/> or <see cref="LstmStackParameters"/>: clearing, the global norm, clipping.</summary>
public static class Gradients
{
    /// <summary>Sets every weight and bias of <paramref name="gradient"/> to zero (before accumulating a new batch).</summary>
    /// <param name="gradient">The gradient.</param>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    public static void Clear(LstmParameters gradient)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        gradient.WeightIh.Clear();
        gradient.WeightHh.Clear();
        gradient.Bias.Clear();
    }

    /// <summary>The global L2 norm <c>√(Σ g²)</c> over every weight and bias, plus <paramref name="extra"/>.</summary>
    /// <param name="gradient">The gradient.</param>
    /// <param name="extra">More gradient values to include (e.g. an output layer's), or empty.</param>
    /// <returns>The norm; ∞ when the sum of squares overflows float, NaN when a value is NaN.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    public static float GlobalNorm(LstmParameters gradient, ReadOnlySpan<float> extra)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        double sum = (double)System.Numerics.Tensors.TensorPrimitives.SumOfSquares<float>(gradient.WeightIh)
            + System.Numerics.Tensors.TensorPrimitives.SumOfSquares<float>(gradient.WeightHh)
            + System.Numerics.Tensors.TensorPrimitives.SumOfSquares<float>(gradient.Bias)
            + System.Numerics.Tensors.TensorPrimitives.SumOfSquares(extra);
        return (float)Math.Sqrt(sum);
    }

    /// <summary>
    /// Clipping by global norm: when <c>‖g‖ &gt; maxNorm</c>, scales every value (of <paramref name="gradient"/> and
    /// <paramref name="extra"/>) by <c>maxNorm / ‖g‖</c>, so the direction is kept and the norm becomes maxNorm.
    /// </summary>
    /// <param name="gradient">The gradient, scaled in place.</param>
    /// <param name="extra">More gradient values in the same norm (e.g. an output layer's), or empty.</param>
    /// <param name="maxNorm">The largest norm allowed (positive).</param>
    /// <returns>The norm before clipping. A non-finite norm leaves the gradient unchanged, so the caller can skip the step.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not positive and finite.</exception>
    public static float ClipByGlobalNorm(LstmParameters gradient, Span<float> extra, float maxNorm)
    {
        CheckMaxNorm(maxNorm);
        float norm = GlobalNorm(gradient, extra);
        if (ClipScale(norm, maxNorm, out float scale))
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(gradient.WeightIh, scale, gradient.WeightIh);
            System.Numerics.Tensors.TensorPrimitives.Multiply(gradient.WeightHh, scale, gradient.WeightHh);
            System.Numerics.Tensors.TensorPrimitives.Multiply(gradient.Bias, scale, gradient.Bias);
            System.Numerics.Tensors.TensorPrimitives.Multiply(extra, scale, extra);
        }

        return norm;
    }

    /// <summary>Sets every value of <paramref name="gradient"/> to zero (before accumulating a new batch).</summary>
    /// <param name="gradient">The gradient.</param>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    public static void Clear(LstmStackParameters gradient)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        gradient.Values.Clear();
    }

    /// <summary>
    /// The global L2 norm <c>√(Σ g²)</c> over every tensor, plus <paramref name="extra"/>: PyTorch's
    /// <c>clip_grad_norm_</c> norm over <c>model.parameters()</c> (so both biases with <see cref="LstmBiasMode.Separate"/>).
    /// </summary>
    /// <param name="gradient">The gradient.</param>
    /// <param name="extra">More gradient values to include (e.g. an output layer's), or empty.</param>
    /// <returns>The norm; ∞ when the sum of squares overflows float, NaN when a value is NaN.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    public static float GlobalNorm(LstmStackParameters gradient, ReadOnlySpan<float> extra)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        double sum = (double)System.Numerics.Tensors.TensorPrimitives.SumOfSquares<float>(gradient.Values)
            + System.Numerics.Tensors.TensorPrimitives.SumOfSquares(extra);
        return (float)Math.Sqrt(sum);
    }

    /// <summary>
    /// Clipping by global norm over every tensor of the stack and <paramref name="extra"/>, as PyTorch's
    /// <c>clip_grad_norm_</c>: when <c>‖g‖ &gt; maxNorm</c>, scales every value by <c>maxNorm / ‖g‖</c>.
    /// </summary>
    /// <param name="gradient">The gradient, scaled in place.</param>
    /// <param name="extra">More gradient values in the same norm (e.g. an output layer's), or empty.</param>
    /// <param name="maxNorm">The largest norm allowed (positive).</param>
    /// <returns>The norm before clipping. A non-finite norm leaves the gradient unchanged, so the caller can skip the step.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not positive and finite.</exception>
    public static float ClipByGlobalNorm(LstmStackParameters gradient, Span<float> extra, float maxNorm)
    {
        CheckMaxNorm(maxNorm);
        float norm = GlobalNorm(gradient, extra);
        if (ClipScale(norm, maxNorm, out float scale))
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(gradient.Values, scale, gradient.Values);
            System.Numerics.Tensors.TensorPrimitives.Multiply(extra, scale, extra);
        }

        return norm;
    }

    private static void CheckMaxNorm(float maxNorm)
    {
        if (!(maxNorm > 0 && float.IsFinite(maxNorm)))
        {
            ThrowHelper.OutOfRange(nameof(maxNorm), maxNorm, "must be positive and finite");
        }
    }

    /// <summary>Whether a gradient of norm <paramref name="norm"/> is clipped to <paramref name="maxNorm"/>, and by what factor (a non-finite norm is left alone).</summary>
    private static bool ClipScale(float norm, float maxNorm, out float scale)
    {
        scale = maxNorm / norm;
        return norm > maxNorm && float.IsFinite(norm);
    }

    internal static void CheckSameShape(LstmParameters? parameters, LstmParameters gradient, string paramName)
    {
        ArgumentNullException.ThrowIfNull(gradient, paramName);
        if (parameters is null)
        {
            throw new InvalidOperationException("This optimizer was built for LstmStackParameters; call Update(LstmStackParameters gradient) with a gradient from the parameters' CreateGradient() (what LstmTrainer.Backward accumulates).");
        }

        if (gradient.InputSize != parameters.InputSize || gradient.HiddenSize != parameters.HiddenSize)
        {
            ThrowHelper.Argument(paramName, "The gradient must have the sizes of the parameters.");
        }
    }

    internal static void CheckSameLayout(LstmStackParameters? parameters, LstmStackParameters gradient, string paramName)
    {
        ArgumentNullException.ThrowIfNull(gradient, paramName);
        if (parameters is null)
        {
            throw new InvalidOperationException("This optimizer was built for one cell's LstmParameters; call Update(LstmParameters gradient), or build the optimizer over the LstmStackParameters to train a stack.");
        }

        if (!parameters.SameLayout(gradient))
        {
            ThrowHelper.Argument(paramName, "The gradient must have the layout of the parameters (sizes, layers, directions, projections and bias mode).");
        }
    }
}
