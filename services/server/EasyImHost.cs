using EasyIm.Hosting;
using EasyIm.Hosting.Bus;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Memory;

namespace EasyIm.Server;

/// <summary>Builds the process for the targets its configuration names. Used by the CLI and by tests.</summary>
public static class EasyImHost
{
    public const string TargetKey = "EasyIm:Target";

    /// <param name="args">Configuration-style arguments (<c>--Bus:Transport=RabbitMq</c>).</param>
    /// <param name="overrides">Settings that win over everything else (what the CLI's own options said).</param>
    /// <param name="migrateOnly">For <c>easyim migrate</c>: the bus is never started, so any target runs on any transport.</param>
    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?>? overrides = null, bool migrateOnly = false)
    {
        var builder = CreateBuilder(args, overrides);

        var modules = Targets.Resolve(builder.Configuration[TargetKey]);
        if (!migrateOnly && builder.Configuration.GetBusTransport() == BusTransport.InMemory && modules.Count != Targets.Modules.Count)
            throw new StartupException(
                $"The in-memory bus ({BusSetup.TransportKey}=InMemory, the default) joins services only inside one process, so it runs only --target {Targets.All}. " +
                $"To run '{builder.Configuration[TargetKey]}' on its own, set {BusSetup.TransportKey}=RabbitMq and {BusSetup.RabbitMqConnectionKey} " +
                "(e.g. environment variables Bus__Transport=RabbitMq ConnectionStrings__rabbitmq=amqp://guest:guest@127.0.0.1:5672/).");

        builder.AddServiceDefaults();
        builder.ListenOnApiPort();
        foreach (var module in modules)
            module.Add(builder);
        builder.AddEasyImBus(modules.Select(m => m.Consumers), modules.Where(m => m.Endpoints is not null).Select(m => m.Endpoints!));
        if (!migrateOnly)
            builder.AddControlSocket();

        var app = builder.Build();
        app.MapHealthEndpoints();
        foreach (var module in modules)
            module.Map(app);
        return app;
    }

    /// <summary>Every process (any target) can be stopped by <c>easyim --stop</c>, through its <see cref="ControlSocket"/>.</summary>
    private static void AddControlSocket(this WebApplicationBuilder builder)
    {
        var candidates = ControlSocket.Candidates(builder.Configuration);
        if (builder.Configuration[ControlSocket.PathKey] is { Length: > 0 } && !ControlSocket.Fits(candidates[0]))
            throw new StartupException($"{ControlSocket.PathKey} must be a path of at most {ControlSocket.MaxPathBytes} bytes (a Unix socket's limit), not '{candidates[0]}'.");
        builder.Services.AddSingleton(services => new ControlSocket(candidates,
            services.GetRequiredService<IHostApplicationLifetime>(), services.GetRequiredService<ILogger<ControlSocket>>()));
        builder.Services.AddHostedService(services => services.GetRequiredService<ControlSocket>());
    }

    /// <summary>The configuration a process started with these arguments would run with (for <c>--stop</c>).</summary>
    public static IConfiguration ReadConfiguration(string[] args, IReadOnlyDictionary<string, string?>? overrides = null) =>
        CreateBuilder(args, overrides).Configuration;

    private static WebApplicationBuilder CreateBuilder(string[] args, IReadOnlyDictionary<string, string?>? overrides)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            // Defaults come from appsettings.json beside the executable, whatever the working directory.
            ContentRootPath = AppContext.BaseDirectory,
        });
        AddLegacySettings(builder.Configuration);
        if (overrides is not null)
            builder.Configuration.AddInMemoryCollection(overrides);
        return builder;
    }

    /// <summary>easyim's .env names sit just below the environment variables: EasyIm's own names win.</summary>
    private static void AddLegacySettings(ConfigurationManager configuration)
    {
        var legacy = EasyImConfiguration.ReadLegacySettings(Directory.GetCurrentDirectory());
        if (legacy.Count == 0)
            return;
        var sources = configuration.Sources;
        // Before the unprefixed environment variables, after appsettings.json (the DOTNET_/ASPNETCORE_ ones come first of all).
        var index = sources.ToList().FindLastIndex(s => s is EnvironmentVariablesConfigurationSource { Prefix: null or "" });
        sources.Insert(index < 0 ? sources.Count : index, new MemoryConfigurationSource { InitialData = legacy });
    }
}
