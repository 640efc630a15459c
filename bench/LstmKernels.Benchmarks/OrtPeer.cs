using LstmKernels.Testing;
using Microsoft.ML.OnnxRuntime;

namespace LstmKernels.Benchmarks;

/// <summary>
/// ONNX Runtime's LSTM operator on the same weights as a <see cref="LstmCell"/>: a one-node ONNX graph built in
/// memory, one intra-op thread (or two, against <see cref="LstmCell.StepThreads"/> = 2) and one inter-op thread, every input and output bound once to preallocated
/// <see cref="OrtValue"/>s (IoBinding), which is ONNX Runtime's best case for repeated calls.
/// </summary>
/// <remarks>
/// The constructor runs the model once and checks Y_h and Y_c against the cell: a peer is timed only after it is
/// shown to compute the same thing.
/// </remarks>
internal sealed class OrtPeer : IDisposable
{
    /// <summary>Largest |ORT − LstmKernels| accepted before timing (both are float; measured ≤ 1e-6 at these sizes).</summary>
    private const double Agreement = 2e-5;

    private readonly InferenceSession session;
    private readonly OrtIoBinding binding;
    private readonly RunOptions runOptions = new();
    private readonly OrtValue[] values;

    public OrtPeer(LstmParameters parameters, LstmCell cell, int batch, int steps, int threads = 1)
    {
        int input = parameters.InputSize, hidden = parameters.HiddenSize;
        session = CreateSession(parameters, batch, steps, threads);

        X = Data.Uniform(steps * batch * input, 1f, seed: 3);
        H0 = Data.Uniform(batch * hidden, 1f, seed: 4);
        C0 = Data.Uniform(batch * hidden, 1f, seed: 5);
        Y = new float[steps * batch * hidden];
        Yh = new float[batch * hidden];
        Yc = new float[batch * hidden];
        values =
        [
            OrtValue.CreateTensorValueFromMemory(X, [steps, batch, input]),
            OrtValue.CreateTensorValueFromMemory(H0, [1, batch, hidden]),
            OrtValue.CreateTensorValueFromMemory(C0, [1, batch, hidden]),
            OrtValue.CreateTensorValueFromMemory(Y, [steps, 1, batch, hidden]),
            OrtValue.CreateTensorValueFromMemory(Yh, [1, batch, hidden]),
            OrtValue.CreateTensorValueFromMemory(Yc, [1, batch, hidden]),
        ];
        binding = session.CreateIoBinding();
        binding.BindInput("X", values[0]);
        binding.BindInput("initial_h", values[1]);
        binding.BindInput("initial_c", values[2]);
        binding.BindOutput("Y", values[3]);
        binding.BindOutput("Y_h", values[4]);
        binding.BindOutput("Y_c", values[5]);
        Verify(cell, batch, hidden);
    }

    public float[] X { get; }

    public float[] H0 { get; }

    public float[] C0 { get; }

    public float[] Y { get; }

    public float[] Yh { get; }

    public float[] Yc { get; }

    /// <summary>One call: all the steps of the bound sequence (one step when built with steps = 1).</summary>
    public void Run() => session.RunWithBinding(runOptions, binding);

    public void Dispose()
    {
        binding.Dispose();
        foreach (OrtValue value in values)
        {
            value.Dispose();
        }

        runOptions.Dispose();
        session.Dispose();
    }

    /// <summary>
    /// A one-node LSTM graph of these weights (T steps, B rows, initial states as inputs) in a session with
    /// <paramref name="threads"/> intra-op threads (one inter-op thread, sequential execution).
    /// </summary>
    internal static InferenceSession CreateSession(LstmParameters parameters, int batch, int steps, int threads = 1)
    {
        var model = new OnnxLstmModel
        {
            SequenceLength = steps,
            BatchSize = batch,
            InputSize = parameters.InputSize,
            HiddenSize = parameters.HiddenSize,
            W = ToOnnxOrder(parameters.WeightIh),
            R = ToOnnxOrder(parameters.WeightHh),
            B = [.. ToOnnxOrder(parameters.Bias), .. new float[4 * parameters.HiddenSize]],
            WithInitialState = true,
        };

        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        return new InferenceSession(model.ToBytes(), options);
    }

    /// <summary>Rows of PyTorch's gate blocks (i, f, g, o) into ONNX's (i, o, f, c).</summary>
    internal static float[] ToOnnxOrder(ReadOnlySpan<float> pytorch)
    {
        int block = pytorch.Length / 4;
        float[] onnx = new float[pytorch.Length];
        ReadOnlySpan<int> from = [0, 3, 1, 2];
        for (int k = 0; k < 4; k++)
        {
            pytorch.Slice(from[k] * block, block).CopyTo(onnx.AsSpan(k * block));
        }

        return onnx;
    }

    private void Verify(LstmCell cell, int batch, int hidden)
    {
        Run();
        float[] h = new float[batch * hidden], c = new float[batch * hidden];
        cell.ForwardSequence(X, H0, C0, [], h, c);
        double worst = 0;
        for (int k = 0; k < h.Length; k++)
        {
            worst = Math.Max(worst, Math.Max(Math.Abs(h[k] - Yh[k]), Math.Abs(c[k] - Yc[k])));
        }

        if (!(worst <= Agreement))
        {
            throw new InvalidOperationException($"ONNX Runtime and LstmKernels disagree by {worst:e2} (> {Agreement:e0}); not timing a peer that computes something else.");
        }

        MaxDifference = worst;
    }

    /// <summary>The largest |ORT − LstmKernels| in Y_h and Y_c found by the check.</summary>
    public double MaxDifference { get; private set; }
}
