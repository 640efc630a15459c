using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LstmService;

/// <summary>
/// <c>/healthz</c>: Healthy once the model is packed and streams are admitted (the model is loaded and packed before the
/// server binds its port, so that is as soon as the port answers); Unhealthy from the start of shutdown on, so a load
/// balancer stops sending new streams while open ones drain.
/// </summary>
internal sealed class ModelHealthCheck(LstmEngine engine) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!engine.IsReady)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"Shutting down: {engine.ActiveStreams} stream(s) draining."));
        }

        return Task.FromResult(HealthCheckResult.Healthy(
            $"Model packed: {engine.Lstm.Layers} layer(s), {engine.Lstm.InputSize} → {engine.Lstm.OutputSize}, {ServiceOptions.PrecisionName(engine.Lstm.Options.Precision)}; {engine.ActiveStreams}/{engine.MaxStreams} streams open."));
    }
}
