using System.Net;
using Grpc.Core;
using LstmKernels;
using LstmService.V1;

namespace LstmService.Tests;

/// <summary>Info, health, metrics and the command line.</summary>
public sealed class ServiceInfoTests
{
    [Theory]
    [InlineData(true, WeightPrecision.Float32, 1024, 64)]
    [InlineData(false, WeightPrecision.BFloat16, 7, 64)]
    [InlineData(true, WeightPrecision.Int8, 16, 32)]
    public async Task Info_DescribesTheModelAndHowItIsServed(bool batching, WeightPrecision precision, int maxStreams, int maxBatch)
    {
        await using ServiceHost host = await ServiceHost.StartAsync(new ServiceOptions { Batching = batching, Precision = precision, MaxStreams = maxStreams, MaxBatch = maxBatch });

        ModelInfo info = await host.Client.InfoAsync(new InfoRequest()).ResponseAsync.WaitAsync(ServiceHost.Timeout);

        Assert.Equal(ModelLoader.DefaultInputSize, info.InputSize);
        Assert.Equal(ModelLoader.DefaultHiddenSize, info.HiddenSize);
        Assert.Equal(ModelLoader.DefaultHiddenSize, info.OutputSize);
        Assert.Equal(0, info.ProjectionSize);
        Assert.Equal(ModelLoader.DefaultLayers, info.Layers);
        Assert.Equal(precision switch { WeightPrecision.BFloat16 => Precision.Bfloat16, WeightPrecision.Int8 => Precision.Int8, _ => Precision.Float32 }, info.Precision);
        Assert.Equal(batching, info.Batching);
        Assert.Equal(maxStreams, info.MaxStreams);
        Assert.Equal(batching ? Math.Min(maxBatch, maxStreams) : 1, info.MaxBatch);
        Assert.Equal((4 * ModelLoader.DefaultInputSize) + 64, info.MaxFrameBytes);

        // Automatic step threads: 2 with batching on a machine of 2+ cores, else 1.
        Assert.Equal(batching && Environment.ProcessorCount >= 2 ? 2 : 1, info.StepThreads);
    }

    /// <summary>
    /// --step-threads: explicit 1 or 2 are served as asked; the automatic choice falls back to 1 for a model on the unfused
    /// route (a Keras-style ONNX graph with peepholes and clip), which an explicit 2 refuses before serving.
    /// </summary>
    [Fact]
    public void StepThreads_ExplicitOrAutomatic()
    {
        Assert.Equal(2, ModelLoader.Load(new ServiceOptions { StepThreads = 2, Batching = false }).Options.StepThreads);
        Assert.Equal(1, ModelLoader.Load(new ServiceOptions { StepThreads = 1 }).Options.StepThreads);
        Assert.Equal(1, ModelLoader.Load(new ServiceOptions { Batching = false }).Options.StepThreads);
        string peepholes = Path.Combine(AppContext.BaseDirectory, "Fixtures", "single_node_keras_style_peepholes.onnx");
        Assert.Equal(1, ModelLoader.Load(new ServiceOptions { ModelPath = peepholes }).Options.StepThreads);
        Assert.Contains(
            "--step-threads 1",
            Assert.Throws<NotSupportedException>(() => ModelLoader.Load(new ServiceOptions { ModelPath = peepholes, StepThreads = 2 })).Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_IsHealthyOnceServing()
    {
        await using ServiceHost host = await ServiceHost.StartAsync();
        using HttpClient http = H2c.CreateClient(host.Address);

        using HttpResponseMessage response = await http.GetAsync(new Uri("/healthz", UriKind.Relative)).WaitAsync(ServiceHost.Timeout);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync().WaitAsync(ServiceHost.Timeout));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Metrics_CountStepsLatencyBatchesStreamsAndFaults(bool batching)
    {
        await using ServiceHost host = await ServiceHost.StartAsync(new ServiceOptions { Batching = batching, MaxStreams = 3 });
        using var metrics = new MetricsRecorder(host.Metrics.Meter);
        Assert.Contains(ServiceMetrics.MeterName, host.Metrics.Meter.Name, StringComparison.Ordinal);

        // 3 streams of 10 frames at once; then, with all 3 open, a 4th is refused; then a bad frame.
        await ServiceOutputTests.RunAndCompare(host, host.Engine.Lstm, streams: 3, steps: 10, seed: 700);
        var open = new AsyncDuplexStreamingCall<Frame, Frame>[3];
        float[] frame = Frames.Random(1, host.InputSize, seed: 16)[0];
        for (int s = 0; s < open.Length; s++)
        {
            open[s] = host.Client.Run();
            await open[s].RequestStream.WriteAsync(Frames.Message(frame)).WaitAsync(ServiceHost.Timeout);
            await Frames.ReadAsync(open[s]);
        }

        metrics.Observe();
        Assert.Equal(3, metrics[ServiceMetrics.ActiveStreams]);
        using (AsyncDuplexStreamingCall<Frame, Frame> over = host.Client.Run())
        {
            Assert.Equal(StatusCode.ResourceExhausted, (await Frames.ReadUntilFailure(over, maxOutputs: 0)).StatusCode);
        }

        await open[0].RequestStream.WriteAsync(Frames.Message([1f])).WaitAsync(ServiceHost.Timeout);
        Assert.Equal(StatusCode.InvalidArgument, (await Frames.ReadUntilFailure(open[0], maxOutputs: 0)).StatusCode);
        foreach (AsyncDuplexStreamingCall<Frame, Frame> call in open)
        {
            call.Dispose();
        }

        await host.WaitForNoStreams();
        metrics.Observe();

        Assert.Equal(33, metrics[ServiceMetrics.Steps]);
        Assert.Equal(1, metrics[$"{ServiceMetrics.RejectedStreams}[reason=stream_cap]"]);
        Assert.Equal(3, metrics[$"{ServiceMetrics.EndedStreams}[status=ok]"]);
        Assert.Equal(1, metrics[$"{ServiceMetrics.EndedStreams}[status=invalid_argument]"]);
        Assert.Equal(2, metrics[$"{ServiceMetrics.EndedStreams}[status=cancelled]"]);
        Assert.Equal(0, metrics[ServiceMetrics.ActiveStreams]);
        IReadOnlyList<double> durations = metrics.Doubles(ServiceMetrics.StepDuration);
        Assert.Equal(33, durations.Count);
        Assert.All(durations, d => Assert.True(d > 0 && d < 10_000_000, $"step duration {d} µs"));

        // Batches: between 1 and 33 of them, and their mean size (observed twice: the first covers every batch).
        long batches = metrics[ServiceMetrics.Batches];
        Assert.InRange(batches, batching ? 1 : 33, 33);
        double meanBatch = metrics.Doubles(ServiceMetrics.BatchSize)[0];
        Assert.Equal(33.0 / batches, meanBatch, 1e-9);
        Assert.Equal(host.Engine.BatchCount, batches);
    }

    [Fact]
    public void Options_ParseTheCommandLine()
    {
        ServiceOptions defaults = ServiceOptions.Parse([]);
        Assert.Equal("http://127.0.0.1:5077", defaults.Urls);
        Assert.True(defaults.Batching);
        Assert.Null(defaults.ModelPath);
        Assert.Equal(WeightPrecision.Float32, defaults.Precision);

        ServiceOptions options = ServiceOptions.Parse(
            ["--model", "m.safetensors", "--prefix", "lstm.", "--precision", "int8", "--max-streams", "9", "--max-batch", "3", "--batch-wait-us", "50", "--no-batching", "--port", "0", "--drain-timeout", "2"]);
        Assert.Equal(
            new ServiceOptions
            {
                ModelPath = "m.safetensors",
                ModelPrefix = "lstm.",
                Precision = WeightPrecision.Int8,
                MaxStreams = 9,
                MaxBatch = 3,
                BatchWait = TimeSpan.FromMicroseconds(50),
                Batching = false,
                Urls = "http://127.0.0.1:0",
                DrainTimeout = TimeSpan.FromSeconds(2),
            },
            options);
        Assert.Equal("http://0.0.0.0:1;http://[::1]:2", ServiceOptions.Parse(["--urls", "http://0.0.0.0:1;http://[::1]:2"]).Urls);
        Assert.Equal(WeightPrecision.BFloat16, ServiceOptions.Parse(["--precision", "bfloat16"]).Precision);
        Assert.Null(ServiceOptions.Parse(["--step-threads", "auto"]).StepThreads);
        Assert.Equal(2, ServiceOptions.Parse(["--step-threads", "2"]).StepThreads);
        Assert.Contains("auto, 1 or 2", Assert.Throws<ArgumentException>(() => ServiceOptions.Parse(["--step-threads", "3"])).Message, StringComparison.Ordinal);

        Assert.Contains("'--bogus'", Assert.Throws<ArgumentException>(() => ServiceOptions.Parse(["--bogus"])).Message, StringComparison.Ordinal);
        Assert.Contains("float16", Assert.Throws<ArgumentException>(() => ServiceOptions.Parse(["--precision", "float16"])).Message, StringComparison.Ordinal);
        Assert.Contains("needs a value", Assert.Throws<ArgumentException>(() => ServiceOptions.Parse(["--model"])).Message, StringComparison.Ordinal);
        Assert.Contains("from 1", Assert.Throws<ArgumentException>(() => ServiceOptions.Parse(["--max-streams", "0"])).Message, StringComparison.Ordinal);
        Assert.Contains("not both", Assert.Throws<ArgumentException>(() => ServiceOptions.Parse(["--port", "1", "--urls", "http://127.0.0.1:2"])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Model_BidirectionalOrMissingFile_FailsBeforeServing()
    {
        Lstm bidirectional = Lstm.Create(
            [LstmParameters.CreateRandom(4, 8, seed: 1), LstmParameters.CreateRandom(4, 8, seed: 2)],
            new LstmOptions { Direction = LstmDirection.Bidirectional });
        string path = Path.Combine(Path.GetTempPath(), $"lstmservice-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, LstmKernels.Interop.SafetensorsFile.Write(LstmKernels.Interop.PyTorchStateDict.FromLstm(bidirectional)));
        try
        {
            Assert.Contains("bidirectional", Assert.Throws<InvalidDataException>(() => ModelLoader.Load(new ServiceOptions { ModelPath = path })).Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }

        Assert.Throws<FileNotFoundException>(() => LstmServiceApp.Build(new ServiceOptions { ModelPath = path, Urls = "http://127.0.0.1:0" }));
        Assert.Contains(".safetensors", Assert.Throws<InvalidDataException>(() => ModelLoader.Load(new ServiceOptions { ModelPath = "model.h5" })).Message, StringComparison.Ordinal);
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        Assert.Contains(
            "bidirectional",
            Assert.Throws<InvalidDataException>(() => ModelLoader.Load(new ServiceOptions { ModelPath = Path.Combine(fixtures, "torch_2layer_bidirectional_opset13.onnx") })).Message,
            StringComparison.Ordinal);
        Assert.Contains(
            "--precision float32",
            Assert.Throws<NotSupportedException>(() => ModelLoader.Load(new ServiceOptions { ModelPath = Path.Combine(fixtures, "single_node_keras_style_peepholes.onnx"), Precision = WeightPrecision.BFloat16 })).Message,
            StringComparison.Ordinal);
    }
}
