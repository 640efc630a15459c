using LstmKernels;
using LstmKernels.Interop;
using LstmService.V1;

namespace LstmService.Tests;

/// <summary>What comes back is what an <see cref="LstmSession"/> of the served model gives, bit for bit.</summary>
public sealed class ServiceOutputTests
{
    private const int Streams = 8;
    private const int Steps = 40;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Run_ConcurrentStreams_MatchSessionBitwise(bool batching)
    {
        await using ServiceHost host = await ServiceHost.StartAsync(new ServiceOptions { Batching = batching });

        await RunAndCompare(host, host.Engine.Lstm, Streams, Steps, seed: 100);

        Assert.Equal(Streams * Steps, host.Engine.StepCount);
        await host.WaitForNoStreams();
        Assert.Empty(host.Logs.Entries);
    }

    [Theory]
    [InlineData(true, WeightPrecision.BFloat16)]
    [InlineData(true, WeightPrecision.Int8)]
    [InlineData(false, WeightPrecision.BFloat16)]
    [InlineData(false, WeightPrecision.Int8)]
    public async Task Run_ConcurrentStreams_ReducedPrecision_MatchSessionBitwise(bool batching, WeightPrecision precision)
    {
        await using ServiceHost host = await ServiceHost.StartAsync(new ServiceOptions { Batching = batching }, TestModels.Small(precision));

        await RunAndCompare(host, host.Engine.Lstm, Streams, Steps, seed: 150);

        Assert.Equal(Streams * Steps, host.Engine.StepCount);
        await host.WaitForNoStreams();
        Assert.Empty(host.Logs.Entries);
    }

    /// <summary>torch.save files written by PyTorch 1.13.1 (a 2-layer stack; a module wrapped under "lstm."): served as read.</summary>
    [Theory]
    [InlineData("stack.pt", "")]
    [InlineData("wrapped.pt", "lstm.")]
    public async Task Run_ModelFromTorchSave_MatchesTheFileReadByTheLibrary(string file, string prefix)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", file);
        Lstm expected = PyTorchStateDict.CreateLstm(PyTorchFile.ReadFile(path), prefix);
        await using ServiceHost host = await ServiceHost.StartAsync(new ServiceOptions { ModelPath = path, ModelPrefix = prefix, MaxBatch = 4 });
        ModelInfo info = await host.Client.InfoAsync(new InfoRequest()).ResponseAsync.WaitAsync(ServiceHost.Timeout);
        Assert.Equal((expected.InputSize, expected.HiddenSize, expected.Layers), (info.InputSize, info.HiddenSize, info.Layers));
        await RunAndCompare(host, expected, streams: 3, steps: 10, seed: 300);
    }

    /// <summary>ONNX models written by torch.onnx.export (2 layers at opset 11; batch-first at opset 15): served as OnnxFile reads them.</summary>
    [Theory]
    [InlineData("torch_2layer_opset11.onnx")]
    [InlineData("torch_batchfirst_opset15.onnx")]
    public async Task Run_ModelFromOnnx_MatchesTheFileReadByTheLibrary(string file)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", file);
        Lstm expected = OnnxFile.ReadLstm(path);
        await using ServiceHost host = await ServiceHost.StartAsync(new ServiceOptions { ModelPath = path, MaxBatch = 4 });
        ModelInfo info = await host.Client.InfoAsync(new InfoRequest()).ResponseAsync.WaitAsync(ServiceHost.Timeout);
        Assert.Equal((expected.InputSize, expected.HiddenSize, expected.Layers), (info.InputSize, info.HiddenSize, info.Layers));
        await RunAndCompare(host, expected, streams: 3, steps: 10, seed: 301);
    }

    [Fact]
    public async Task Run_ModelFromSafetensors_MatchesTheOriginalModel()
    {
        // An odd hidden size (not a multiple of the 16-unit panel) and 3 layers, saved as PyTorch would save nn.LSTM.
        var cells = new[]
        {
            LstmParameters.CreateRandom(12, 40, seed: 1),
            LstmParameters.CreateRandom(40, 40, seed: 2),
            LstmParameters.CreateRandom(40, 40, seed: 3),
        };
        Lstm original = Lstm.Create(cells);
        string path = Path.Combine(Path.GetTempPath(), $"lstmservice-{Guid.NewGuid():N}.safetensors");
        await File.WriteAllBytesAsync(path, SafetensorsFile.Write(PyTorchStateDict.FromLstm(original, "lstm.")));
        try
        {
            await using ServiceHost host = await ServiceHost.StartAsync(new ServiceOptions { ModelPath = path, ModelPrefix = "lstm.", MaxBatch = 4 });

            ModelInfo info = await host.Client.InfoAsync(new InfoRequest()).ResponseAsync.WaitAsync(ServiceHost.Timeout);
            Assert.Equal((12, 40, 40, 3, Precision.Float32), (info.InputSize, info.HiddenSize, info.OutputSize, info.Layers, info.Precision));

            // The same weights, bit for bit: bias_hh is zero in the export, and x + 0 is x.
            await RunAndCompare(host, original, streams: 5, steps: 20, seed: 200);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Run_ModelFromSafetensorsInInt8_MatchesTheServedModel()
    {
        Lstm original = Lstm.Create([LstmParameters.CreateRandom(20, 48, seed: 4)]);
        string path = Path.Combine(Path.GetTempPath(), $"lstmservice-{Guid.NewGuid():N}.safetensors");
        await File.WriteAllBytesAsync(path, SafetensorsFile.Write(PyTorchStateDict.FromLstm(original)));
        try
        {
            await using ServiceHost host = await ServiceHost.StartAsync(new ServiceOptions { ModelPath = path, Precision = WeightPrecision.Int8 });

            ModelInfo info = await host.Client.InfoAsync(new InfoRequest()).ResponseAsync.WaitAsync(ServiceHost.Timeout);
            Assert.Equal(Precision.Int8, info.Precision);
            Assert.Equal(WeightPrecision.Int8, host.Engine.Lstm.Options.Precision);
            await RunAndCompare(host, host.Engine.Lstm, streams: 3, steps: 10, seed: 300);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Runs the streams at once, each with its own frames, and compares each with its own session.</summary>
    internal static async Task RunAndCompare(ServiceHost host, Lstm reference, int streams, int steps, int seed)
    {
        var inputs = new float[streams][][];
        var runs = new Task<float[][]>[streams];
        for (int s = 0; s < streams; s++)
        {
            inputs[s] = Frames.Random(steps, reference.InputSize, seed + s);
            float[][] frames = inputs[s];
            runs[s] = Task.Run(() => Frames.RunAsync(host.Client, frames));
        }

        float[][][] outputs = await Task.WhenAll(runs).WaitAsync(ServiceHost.Timeout);
        for (int s = 0; s < streams; s++)
        {
            Frames.AssertBitwiseEqual(Frames.Expected(reference, inputs[s]), outputs[s], $"stream {s}");
        }
    }
}
