using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace EasyIm.Hosting;

/// <summary>What every EasyIm process has whatever it runs: telemetry and health endpoints.</summary>
public static class ServiceDefaults
{
    public const string ReadyTag = "ready";
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string MetricsPath = "/metrics";

    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHealthChecks();
        var otel = builder.Services.AddOpenTelemetry()
            .WithMetrics(m => m
                .AddAspNetCoreInstrumentation().AddRuntimeInstrumentation().AddMeter("MassTransit", EasyImTelemetry.Name)
                .AddPrometheusExporter());
        // Traces only where a collector takes them: without a listener no span is created, so the
        // message path (and MassTransit's, which traces every bus message when listened to) pays nothing.
        if (!string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointKey]))
        {
            otel.WithTracing(t => t.AddAspNetCoreInstrumentation().AddSource("MassTransit", EasyImTelemetry.Name));
            otel.UseOtlpExporter();
        }
        builder.Services.AddHostedService<ErrorCountersAtZero>();
        return builder;
    }

    /// <summary>Runs after the meter provider has started (hosted services start in order).</summary>
    private sealed class ErrorCountersAtZero : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            EasyImTelemetry.PublishErrorCounters();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Health, metrics, the OpenAPI document and its viewer: what <see cref="Listening.ManagementPortKey"/> moves off the API port.</summary>
    public static bool IsInternal(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments(MetricsPath, StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/openapi", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/scalar", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// <c>/health/live</c>: the process answers. <c>/health/ready</c>: its bus and databases are reachable.
    /// <c>/metrics</c>: the Prometheus scrape endpoint.
    /// </summary>
    public static WebApplication MapHealthEndpoints(this WebApplication app)
    {
        if (app.Configuration.GetManagementPort() is > 0 and var management)
        {
            // By the port the connection came in on, not the Host header (which the client writes): the internal
            // endpoints on the management port only, and nothing else there.
            app.Use((context, next) =>
            {
                if (IsInternal(context.Request.Path) == (context.Connection.LocalPort == management))
                    return next(context);
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            });
        }
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = r => r.Tags.Contains(ReadyTag) });
        app.MapPrometheusScrapingEndpoint(MetricsPath);
        return app;
    }
}
