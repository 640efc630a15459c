using BenchmarkDotNet.Running;
using LstmKernels.Benchmarks;

// No arguments (or --quick): the Stopwatch report of the cell step, then the streams table. --streams: the streams
// table alone (N closed-loop streams: sessions, batcher, bare batch, ONNX Runtime). --routes: every route choice as an
// interleaved A/B on this machine, beside what its cache-derived policy picks (RouteProbe). --chart [path]: every contender at
// batch 1 as a Markdown table and a log-log PNG (default docs/benchmarks.png). Anything else is a BenchmarkDotNet
// command line, e.g. --filter '*CellStep*' or --list flat.
if (args.Length == 0 || (args.Length == 1 && args[0] == "--quick"))
{
    QuickReport.Run(Console.Out);
}
else if (args.Length == 1 && args[0] == "--streams")
{
    StreamsReport.Run(Console.Out);
}
else if (args.Length == 1 && args[0] == "--routes")
{
    RouteProbe.Run(Console.Out);
}
else if (args[0] == "--chart" && args.Length <= 2)
{
    ChartReport.Run(Console.Out, args.Length == 2 ? Path.GetFullPath(args[1]) : ChartReport.DefaultPath());
}
else
{
    BenchmarkSwitcher.FromAssembly(typeof(QuickReport).Assembly).Run(args);
}
