using System.Diagnostics;
using System.Globalization;

namespace LstmService.LoadTest;

/// <summary>CPU time of the process and of the batchers' engine threads (Linux /proc; zero elsewhere).</summary>
internal static class CpuTime
{
    /// <summary>The kernel's thread name of <c>LstmBatcher</c>'s engine thread ("LstmBatcher engine", cut to 15 bytes).</summary>
    private const string EngineThread = "LstmBatcher eng";

    /// <summary>/proc's clock ticks per second (USER_HZ), 100 on Linux.</summary>
    private const double TicksPerSecond = 100;

    public static double Process()
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return process.TotalProcessorTime.TotalSeconds;
    }

    /// <summary>
    /// User and system time of every engine thread in the process, in seconds (10 ms resolution). Only the host under load
    /// runs batches, so a difference over a window is that host's engine thread.
    /// </summary>
    public static double EngineThreads()
    {
        const string Tasks = "/proc/self/task";
        if (!Directory.Exists(Tasks))
        {
            return 0;
        }

        double seconds = 0;
        foreach (string task in Directory.EnumerateDirectories(Tasks))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') != EngineThread)
                {
                    continue;
                }

                // Fields after the ")" that ends the name: state is field 3, utime 14 and stime 15 (proc(5)).
                string stat = File.ReadAllText(Path.Combine(task, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                seconds += (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // The thread ended between the listing and the read.
                Debug.WriteLine(e.Message);
            }
        }

        return seconds;
    }
}
