namespace LstmKernels.Reference;

public static partial class ReferenceKernels
{
    /// <summary>Twin of <see cref="Kernels.LstmPointwiseTraining"/>, one unit at a time in double.</summary>
    /// <param name="hiddenSize">H.</param>
    /// <param name="gates">Pre-activations <c>[B, 4H]</c>, gate order i, f, g, o.</param>
    /// <param name="cPrev">The previous cell state <c>[B, H]</c>.</param>
    /// <param name="activations">The gate activations <c>[B, 4H]</c>; may be the same memory as <paramref name="gates"/>.</param>
    /// <param name="h">The new hidden state <c>[B, H]</c>.</param>
    /// <param name="c">The new cell state <c>[B, H]</c>; may be the same memory as <paramref name="cPrev"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit, or outputs overlap where not allowed.</exception>
    public static void LstmPointwiseTraining(
        int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> activations, Span<float> h, Span<float> c)
    {
        Kernels.CheckPointwiseTraining(hiddenSize, gates, cPrev, activations, h, c);
        int batch = cPrev.Length / hiddenSize;
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hiddenSize; j++)
            {
                int z = (b * 4 * hiddenSize) + j;
                int s = (b * hiddenSize) + j;
                double i = Sigmoid(gates[z]);
                double f = Sigmoid(gates[z + hiddenSize]);
                double g = Math.Tanh(gates[z + (2 * hiddenSize)]);
                double o = Sigmoid(gates[z + (3 * hiddenSize)]);
                double cs = (f * cPrev[s]) + (i * g);
                activations[z] = (float)i;
                activations[z + hiddenSize] = (float)f;
                activations[z + (2 * hiddenSize)] = (float)g;
                activations[z + (3 * hiddenSize)] = (float)o;
                c[s] = (float)cs;
                h[s] = (float)(o * Math.Tanh(cs));
            }
        }
    }

    /// <summary>Twin of <see cref="Kernels.LstmPointwiseBackward"/>: the same equations, one unit at a time in double.</summary>
    /// <param name="hiddenSize">H.</param>
    /// <param name="activations">Gate activations <c>[B, 4H]</c> (i, f, g, o).</param>
    /// <param name="cPrev">The previous cell state <c>[B, H]</c>.</param>
    /// <param name="c">The new cell state <c>[B, H]</c>.</param>
    /// <param name="dh">∂L/∂h <c>[B, H]</c>.</param>
    /// <param name="dc">∂L/∂c <c>[B, H]</c>.</param>
    /// <param name="dGates">∂L/∂z <c>[B, 4H]</c>.</param>
    /// <param name="dcPrev">∂L/∂cPrev <c>[B, H]</c>; may be the same memory as <paramref name="dc"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit, or outputs overlap where not allowed.</exception>
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
        Kernels.CheckPointwiseBackward(hiddenSize, activations, cPrev, c, dh, dc, dGates, dcPrev);
        int batch = cPrev.Length / hiddenSize;
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hiddenSize; j++)
            {
                int z = (b * 4 * hiddenSize) + j;
                int s = (b * hiddenSize) + j;
                double i = activations[z];
                double f = activations[z + hiddenSize];
                double g = activations[z + (2 * hiddenSize)];
                double o = activations[z + (3 * hiddenSize)];
                double tc = Math.Tanh(c[s]);
                double dct = dc[s] + (dh[s] * o * (1 - (tc * tc)));
                dGates[z] = (float)(dct * g * i * (1 - i));
                dGates[z + hiddenSize] = (float)(dct * cPrev[s] * f * (1 - f));
                dGates[z + (2 * hiddenSize)] = (float)(dct * i * (1 - (g * g)));
                dGates[z + (3 * hiddenSize)] = (float)(dh[s] * tc * o * (1 - o));
                dcPrev[s] = (float)(dct * f);
            }
        }
    }

    /// <summary>Twin of <see cref="Kernels.AccumulateWeightGradient"/>: each element one double sum (starting from its old value), rounded once.</summary>
    /// <param name="hiddenSize">H.</param>
    /// <param name="dGates">∂L/∂z <c>[N, 4H]</c>.</param>
    /// <param name="input">The forward inputs <c>[N, K]</c>.</param>
    /// <param name="weightGradient">The gradient <c>[4H, K]</c>, accumulated.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit, or the gradient overlaps an input.</exception>
    public static void AccumulateWeightGradient(int hiddenSize, ReadOnlySpan<float> dGates, ReadOnlySpan<float> input, Span<float> weightGradient)
    {
        (int n, int k) = Kernels.CheckWeightGradient(hiddenSize, dGates, input, weightGradient);
        int rows = 4 * hiddenSize;
        for (int r = 0; r < rows; r++)
        {
            for (int col = 0; col < k; col++)
            {
                double sum = weightGradient[(r * k) + col];
                for (int b = 0; b < n; b++)
                {
                    sum += (double)dGates[(b * rows) + r] * input[(b * k) + col];
                }

                weightGradient[(r * k) + col] = (float)sum;
            }
        }
    }

    /// <summary>Twin of <see cref="Kernels.AccumulateBiasGradient"/>: each element one double sum, rounded once.</summary>
    /// <param name="dGates">∂L/∂z <c>[N, 4H]</c>.</param>
    /// <param name="biasGradient">The gradient <c>[4H]</c>, accumulated.</param>
    /// <exception cref="ArgumentException">A length does not fit, or the spans overlap.</exception>
    public static void AccumulateBiasGradient(ReadOnlySpan<float> dGates, Span<float> biasGradient)
    {
        Kernels.CheckBiasGradient(dGates, biasGradient);
        int rows = biasGradient.Length;
        int n = dGates.Length / rows;
        for (int r = 0; r < rows; r++)
        {
            double sum = biasGradient[r];
            for (int b = 0; b < n; b++)
            {
                sum += dGates[(b * rows) + r];
            }

            biasGradient[r] = (float)sum;
        }
    }

    /// <summary>Twin of <see cref="Kernels.AccumulateInputGradient"/>: each element one double sum, rounded once.</summary>
    /// <param name="hiddenSize">H.</param>
    /// <param name="dGates">∂L/∂z <c>[B, 4H]</c>.</param>
    /// <param name="weight">The forward weights <c>[4H, K]</c>.</param>
    /// <param name="destination">The gradient <c>[B, K]</c>, accumulated.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit, or the destination overlaps an input.</exception>
    public static void AccumulateInputGradient(int hiddenSize, ReadOnlySpan<float> dGates, ReadOnlySpan<float> weight, Span<float> destination)
    {
        (int batch, int k) = Kernels.CheckInputGradient(hiddenSize, dGates, weight, destination);
        int rows = 4 * hiddenSize;
        for (int b = 0; b < batch; b++)
        {
            for (int col = 0; col < k; col++)
            {
                double sum = destination[(b * k) + col];
                for (int r = 0; r < rows; r++)
                {
                    sum += (double)dGates[(b * rows) + r] * weight[(r * k) + col];
                }

                destination[(b * k) + col] = (float)sum;
            }
        }
    }

    /// <summary>Twin of <see cref="Kernels.SgdUpdate"/> in double, rounded once per stored value.</summary>
    /// <param name="learningRate">The step size.</param>
    /// <param name="momentum">μ in [0, 1).</param>
    /// <param name="gradient">The gradient.</param>
    /// <param name="velocity">The momentum buffer; may be empty when <paramref name="momentum"/> is 0.</param>
    /// <param name="parameters">The parameters, updated in place.</param>
    /// <exception cref="ArgumentOutOfRangeException">A rate is out of range.</exception>
    /// <exception cref="ArgumentException">A length differs, or the spans overlap.</exception>
    public static void SgdUpdate(float learningRate, float momentum, ReadOnlySpan<float> gradient, Span<float> velocity, Span<float> parameters)
    {
        Kernels.CheckSgd(learningRate, momentum, gradient, velocity, parameters);
        for (int k = 0; k < parameters.Length; k++)
        {
            double vel = gradient[k];
            if (!velocity.IsEmpty)
            {
                vel += (double)momentum * velocity[k];
                velocity[k] = (float)vel;
            }

            parameters[k] = (float)(parameters[k] - ((double)learningRate * vel));
        }
    }

    /// <summary>Twin of <see cref="Kernels.AdamUpdate"/> in double, rounded once per stored value.</summary>
    /// <param name="learningRate">lr.</param>
    /// <param name="beta1">β₁.</param>
    /// <param name="beta2">β₂.</param>
    /// <param name="epsilon">ε.</param>
    /// <param name="step">t, from 1.</param>
    /// <param name="gradient">g.</param>
    /// <param name="m">First moment, updated in place.</param>
    /// <param name="v">Second moment, updated in place.</param>
    /// <param name="parameters">p, updated in place.</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is out of range.</exception>
    /// <exception cref="ArgumentException">A length differs, or the spans overlap.</exception>
    public static void AdamUpdate(
        float learningRate, float beta1, float beta2, float epsilon, int step, ReadOnlySpan<float> gradient, Span<float> m, Span<float> v, Span<float> parameters)
    {
        Kernels.CheckAdam(learningRate, beta1, beta2, epsilon, step, gradient, m, v, parameters);
        double bc1 = 1 - Math.Pow(beta1, step);
        double bc2 = 1 - Math.Pow(beta2, step);
        for (int k = 0; k < parameters.Length; k++)
        {
            double g = gradient[k];
            double mv = ((double)beta1 * m[k]) + ((1 - (double)beta1) * g);
            double vv = ((double)beta2 * v[k]) + ((1 - (double)beta2) * g * g);
            m[k] = (float)mv;
            v[k] = (float)vv;
            parameters[k] = (float)(parameters[k] - (learningRate / bc1 * mv / ((Math.Sqrt(vv) / Math.Sqrt(bc2)) + epsilon)));
        }
    }
}
