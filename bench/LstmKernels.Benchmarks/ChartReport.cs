using System.Diagnostics;
using System.Globalization;
using LstmKernels.Reference;

namespace LstmKernels.Benchmarks;

/// <summary>
/// The <c>--chart [path]</c> run: the batch-1 step time of every contender at every standard size, printed as a
/// Markdown table and drawn as a log-log PNG (<see cref="ChartPlot"/>) with the read floor as a dashed line.
/// </summary>
/// <remarks>
/// Shorter budgets than the quick report (the whole run stays well under a minute and a half): a chart on log axes
/// shows factors, and a 10 % wobble is invisible on it. Every contender is timed with <see cref="StepTimer"/>, in place,
/// on the same weights (<c>LstmParameters.CreateRandom(I, H, 1)</c>); ONNX Runtime and TensorPrimitives-simple are
/// checked against <see cref="LstmCell"/> before they are timed.
/// </remarks>
internal static class ChartReport
{
    private const int Rounds = 3;
    private const double WarmupSeconds = 0.15;
    private const double RoundWarmupSeconds = 0.03;
    private const double BudgetSeconds = 0.2;
    private const double ReferenceWarmupSeconds = 0.05;
    private const double ReferenceBudgetSeconds = 0.15;

    /// <summary>Chunk, minimum and cap of <see cref="WarmUntilSteady"/>.</summary>
    private const double SteadyChunkSeconds = 0.1;
    private const double SteadyMinSeconds = 1;
    private const double SteadyMaxSeconds = 3;

    /// <summary>The file written when <c>--chart</c> has no path: docs/benchmarks.png of the repository, found from the current directory.</summary>
    public static string DefaultPath()
    {
        for (DirectoryInfo? dir = new(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LstmKernels.sln")))
            {
                return Path.Combine(dir.FullName, "docs", "benchmarks.png");
            }
        }

        return Path.GetFullPath("benchmarks.png");
    }

    public static void Run(TextWriter output, string path)
    {
        var total = Stopwatch.StartNew();
        string machine = Machine.Describe();
        output.WriteLine("# LstmKernels chart: one step at batch 1");
        output.WriteLine();
        output.WriteLine(machine);
        output.WriteLine();
        output.WriteLine(
            $"Each time: the median of Stopwatch batches after warm-up, the fastest of {Rounds} rounds that take the contenders in turn; every contender steps in place (h, c ← step(x, h, c)) on the same weights. " +
            "naive = ReferenceLstmCell (the numpy seed, in double); TensorPrimitives = one TensorPrimitives.Dot per gate row over " +
            "PyTorch's row-major weights, then TensorPrimitives.Sigmoid/Tanh/Multiply/Add; ONNX Runtime = its LSTM operator, " +
            "one thread, IoBinding; floor = the fp32 packed weights (64-byte aligned) read once by the fastest of the read loops of ReadFloor at that size. " +
            "TP Δ / ORT Δ = max |contender − LstmKernels fp32| in (h, c), checked before timing.");
        output.WriteLine();
        output.WriteLine("| I x H | weights | naive | TensorPrimitives | ONNX Runtime | LstmKernels fp32 | bf16 | int8 | floor | TP/fp32 | ORT/fp32 | fp32/floor | TP Δ | ORT Δ |");
        output.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");

        var rows = new List<ChartRow>();
        bool first = true;
        foreach (CellShape shape in CellShape.Standard)
        {
            ChartRow row = Measure(shape, first);
            first = false;
            rows.Add(row);
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {shape} | {Bytes(row.WeightBytes)} | {Time(row.Naive)} | {Time(row.TensorPrimitives)} | {Time(row.Ort)} | " +
                $"{Time(row.Fp32)} | {Time(row.BFloat16)} | {Time(row.Int8)} | {Time(row.Floor)} | " +
                $"{row.TensorPrimitives / row.Fp32:0.00} | {row.Ort / row.Fp32:0.00} | {row.Fp32 / row.Floor:0.00} | " +
                $"{row.TensorPrimitivesDelta:0.0e+0} | {row.OrtDelta:0.0e+0} |"));
            output.Flush();
        }

        ChartPlot.Save(rows, machine, path);
        output.WriteLine();
        output.WriteLine($"Chart written to {path}.");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Total time {total.Elapsed.TotalSeconds:0.0} s."));
    }

    private static ChartRow Measure(CellShape shape, bool first)
    {
        using var model = new PeerModel(shape);
        LstmParameters parameters = LstmParameters.CreateRandom(shape.Input, shape.Hidden, seed: 1);
        var naive = new ReferenceLstmCell(parameters);
        var simple = new TensorPrimitivesStep(parameters);
        double simpleDelta = simple.Verify(model.Cell);

        var simpleState = new StepState(Data.Uniform(shape.Input, 1f, seed: 2), shape.Hidden);
        var naiveState = new StepState(Data.Uniform(shape.Input, 1f, seed: 2), shape.Hidden);
        if (first)
        {
            // The shared code of the fast routes reaches tier 1 here, so the first size gets tier-1 times too. A fixed
            // warm-up is not enough: TensorPrimitives.Dot's tier-0 code is ~25× slower, and its tier-1 version took
            // ≈0.4 s of calls to arrive on an idle 2-core machine, longer on a busy one.
            WarmUntilSteady(static m => m.StepFloor.Run(), model);
            WarmUntilSteady(static m => m.Step(), model);
            WarmUntilSteady(static m => m.StepBFloat16(), model);
            WarmUntilSteady(static m => m.StepInt8(), model);
            WarmUntilSteady(static m => m.OrtStep.Run(), model);
            WarmUntilSteady(s => simple.Forward(s.X, s.H, s.C, s.H, s.C), simpleState);
        }

        // Rounds over all contenders, keeping each one's fastest median: a burst of load from another process then
        // slows one round of every contender rather than all the timing of one contender.
        double floor = double.MaxValue, fp32 = double.MaxValue, bf16 = double.MaxValue, int8 = double.MaxValue;
        double ort = double.MaxValue, tp = double.MaxValue, reference = double.MaxValue;
        for (int round = 0; round < Rounds; round++)
        {
            double warmup = round == 0 ? WarmupSeconds : RoundWarmupSeconds;
            floor = Math.Min(floor, StepTimer.Median(static m => m.StepFloor.Run(), model, warmup, BudgetSeconds));
            fp32 = Math.Min(fp32, StepTimer.Median(static m => m.Step(), model, warmup, BudgetSeconds));
            bf16 = Math.Min(bf16, StepTimer.Median(static m => m.StepBFloat16(), model, warmup, BudgetSeconds));
            int8 = Math.Min(int8, StepTimer.Median(static m => m.StepInt8(), model, warmup, BudgetSeconds));
            ort = Math.Min(ort, StepTimer.Median(static m => m.OrtStep.Run(), model, warmup, BudgetSeconds));
            tp = Math.Min(tp, StepTimer.Median(s => simple.Forward(s.X, s.H, s.C, s.H, s.C), simpleState, warmup, BudgetSeconds));
            reference = Math.Min(reference, StepTimer.Median(s => naive.Forward(s.X, s.H, s.C, s.H, s.C), naiveState, ReferenceWarmupSeconds, ReferenceBudgetSeconds));
        }

        return new ChartRow(shape, model.Cell.PackedBytes, reference, tp, ort, fp32, bf16, int8, floor, simpleDelta, model.OrtStep.MaxDifference);
    }

    /// <summary>
    /// Calls <paramref name="step"/> in chunks of <see cref="SteadyChunkSeconds"/> for at least <see cref="SteadyMinSeconds"/>
    /// (tier-0 code can look steady for a while before tier 1 arrives), then until a chunk is no more than 5 % faster per
    /// call than the one before (the JIT has stopped replacing code), for at most <see cref="SteadyMaxSeconds"/>.
    /// </summary>
    private static void WarmUntilSteady<TState>(Action<TState> step, TState state)
    {
        var total = Stopwatch.StartNew();
        double previous = double.PositiveInfinity;
        while (total.Elapsed.TotalSeconds < SteadyMaxSeconds)
        {
            long start = Stopwatch.GetTimestamp();
            long calls = 0;
            do
            {
                step(state);
                calls++;
            }
            while (Stopwatch.GetElapsedTime(start).TotalSeconds < SteadyChunkSeconds);

            double perCall = Stopwatch.GetElapsedTime(start).TotalSeconds / calls;
            if (perCall > 0.95 * previous && total.Elapsed.TotalSeconds >= SteadyMinSeconds)
            {
                return;
            }

            previous = perCall;
        }
    }

    internal static string Time(double seconds) =>
        seconds < 1e-6 ? Invariant($"{Digits(seconds * 1e9)} ns") :
        seconds < 1e-3 ? Invariant($"{Digits(seconds * 1e6)} µs") :
        seconds < 1 ? Invariant($"{Digits(seconds * 1e3)} ms") :
        Invariant($"{Digits(seconds)} s");

    internal static string Bytes(long bytes) =>
        bytes < 1 << 20 ? Invariant($"{bytes / 1024.0:0} KiB") : Invariant($"{bytes / (1024.0 * 1024):0.0} MiB");

    /// <summary>Three significant digits.</summary>
    private static string Digits(double value) =>
        value.ToString(value < 10 ? "0.00" : value < 100 ? "0.0" : "0", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Seconds per batch-1 step of every contender at one size.</summary>
internal sealed record ChartRow(
    CellShape Shape,
    long WeightBytes,
    double Naive,
    double TensorPrimitives,
    double Ort,
    double Fp32,
    double BFloat16,
    double Int8,
    double Floor,
    double TensorPrimitivesDelta,
    double OrtDelta);
