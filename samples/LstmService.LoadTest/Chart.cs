using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace LstmService.LoadTest;

/// <summary>
/// The chart: two panels against the number of streams (log2 axis), end-to-end p99 (log10 axis) on the left and steps/s
/// on the right, one line per mode.
/// </summary>
/// <remarks>ScottPlot's axes are linear: the chart plots logarithms and labels the ticks with the values.</remarks>
internal static class Chart
{
    private const int Width = 1600;
    private const int Height = 800;

    /// <param name="runs">Every measured run.</param>
    /// <param name="latencyTitle">The left panel's title (the model).</param>
    /// <param name="throughputTitle">The right panel's title (the host and the date).</param>
    /// <param name="path">The PNG to write.</param>
    public static void Save(IReadOnlyList<RunResult> runs, string latencyTitle, string throughputTitle, string path)
    {
        int[] streams = [.. runs.Select(r => r.Streams).Distinct().Order()];
        ServeMode[] modes = [.. runs.Select(r => r.Mode).Distinct()];
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        Plot latency = multiplot.GetPlot(0);
        Plot throughput = multiplot.GetPlot(1);
        string font = SansFont();

        foreach (ServeMode mode in modes)
        {
            RunResult[] series = [.. runs.Where(r => r.Mode == mode).OrderBy(r => r.Streams)];
            double[] xs = [.. series.Select(r => Math.Log2(r.Streams))];
            (Color color, MarkerShape marker) = Style(mode);
            Line(latency, xs, [.. series.Select(r => Math.Log10(r.ClientSeconds(99) * 1e6))], series[0].Label, color, marker);
            Line(throughput, xs, [.. series.Select(r => r.StepsPerSecond)], series[0].Label, color, marker);
        }

        double minLog = Math.Floor(runs.Min(r => Math.Log10(r.ClientSeconds(99) * 1e6)) - 0.05);
        double maxLog = Math.Ceiling(runs.Max(r => Math.Log10(r.ClientSeconds(99) * 1e6)) + 0.05);
        latency.Axes.SetLimitsY(minLog, maxLog);
        latency.Axes.Left.TickGenerator = TimeTicks(minLog, maxLog);
        latency.YLabel("end-to-end p99 per step (lower is better)");
        throughput.Axes.SetLimitsY(0, runs.Max(r => r.StepsPerSecond) * 1.1);
        throughput.YLabel("steps/s, all streams (higher is better)");

        foreach (Plot plot in new[] { latency, throughput })
        {
            double pad = streams.Length > 1 ? 0.3 : 1;
            plot.Axes.SetLimitsX(Math.Log2(streams[0]) - pad, Math.Log2(streams[^1]) + pad);
            plot.Axes.Bottom.TickGenerator = StreamTicks(streams);
            plot.XLabel("concurrent streams (closed loops)");
            plot.Font.Set(font);
            plot.Axes.Bottom.Label.FontSize = 16;
            plot.Axes.Left.Label.FontSize = 16;
            plot.Axes.Bottom.TickLabelStyle.FontSize = 14;
            plot.Axes.Left.TickLabelStyle.FontSize = 14;
            plot.Grid.MajorLineColor = Colors.Black.WithAlpha(0.15);
            plot.Grid.MinorLineColor = Colors.Black.WithAlpha(0.05);
            plot.Grid.MinorLineWidth = 1;
        }

        latency.Title(latencyTitle);
        latency.Axes.Title.Label.FontSize = 15;
        throughput.Title(throughputTitle);
        throughput.Axes.Title.Label.FontSize = 15;
        Legend(latency.ShowLegend(Alignment.UpperLeft));
        Legend(throughput.ShowLegend(Alignment.UpperLeft));

        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        multiplot.SavePng(path, Width, Height);
    }

    private static void Legend(ScottPlot.Legend legend)
    {
        legend.FontSize = 14;
        legend.InterItemPadding = new PixelPadding(4);
    }

    private static (Color Color, MarkerShape Marker) Style(ServeMode mode) => mode switch
    {
        ServeMode.Off => (Color.FromHex("#7f7f7f"), MarkerShape.FilledSquare),
        ServeMode.Inline => (Color.FromHex("#1f77b4"), MarkerShape.FilledCircle),
        ServeMode.Pool => (Color.FromHex("#ff7f0e"), MarkerShape.FilledTriangleUp),
        _ => (Color.FromHex("#2ca02c"), MarkerShape.FilledDiamond),
    };

    private static void Line(Plot plot, double[] xs, double[] ys, string label, Color color, MarkerShape marker)
    {
        var scatter = plot.Add.Scatter(xs, ys, color);
        scatter.LegendText = label;
        scatter.LineWidth = 2.5f;
        scatter.MarkerShape = marker;
        scatter.MarkerSize = 11;
    }

    /// <summary>A sans-serif font that is installed (ScottPlot's default falls back to a serif one on a bare Linux).</summary>
    private static string SansFont() =>
        SkiaSharp.SKFontManager.Default.GetFontFamilies().Contains("DejaVu Sans") ? "DejaVu Sans" : Fonts.Sans;

    /// <summary>A round time in µs as "500 µs", "2 ms", "1 s".</summary>
    private static string TickLabel(double micros)
    {
        (double value, string unit) = micros < 1e3 ? (micros, "µs") : micros < 1e6 ? (micros / 1e3, "ms") : (micros / 1e6, "s");
        return string.Create(CultureInfo.InvariantCulture, $"{Math.Round(value):0} {unit}");
    }

    private static NumericManual StreamTicks(int[] streams)
    {
        var ticks = new NumericManual();
        foreach (int n in streams)
        {
            ticks.AddMajor(Math.Log2(n), n.ToString(CultureInfo.InvariantCulture));
        }

        return ticks;
    }

    /// <summary>Decades of µs labelled as times, with 2× and 5× labelled too and the other multiples as minor ticks.</summary>
    private static NumericManual TimeTicks(double minLog10Micros, double maxLog10Micros)
    {
        var ticks = new NumericManual();
        for (int decade = (int)Math.Floor(minLog10Micros); decade <= (int)Math.Ceiling(maxLog10Micros); decade++)
        {
            for (int m = 1; m <= 9; m++)
            {
                double micros = m * Math.Pow(10, decade);
                double position = Math.Log10(micros);
                if (position < minLog10Micros - 1e-9 || position > maxLog10Micros + 1e-9)
                {
                    continue;
                }

                if (m is 1 or 2 or 5)
                {
                    ticks.AddMajor(position, TickLabel(micros));
                }
                else
                {
                    ticks.AddMinor(position);
                }
            }
        }

        return ticks;
    }
}
