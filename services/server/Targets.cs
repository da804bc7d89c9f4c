using EasyIm.Auth;
using EasyIm.Friends;
using EasyIm.Gateway;
using EasyIm.Hosting;
using EasyIm.Messaging;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace EasyIm.Server;

/// <summary>One service this executable can run: how it registers, what it consumes, what it serves.</summary>
public sealed record Module(
    string Name,
    string Description,
    string Needs,
    Action<IHostApplicationBuilder> Add,
    Action<IBusRegistrationConfigurator> Consumers,
    Action<WebApplication> Map,
    Action<IBusRegistrationContext, IBusFactoryConfigurator>? Endpoints = null);

/// <summary>The one table of targets. <c>all</c> is only a group: it has no code of its own.</summary>
public static class Targets
{
    public const string All = "all";
    public const string Gateway = "gateway";
    public const string Auth = "auth";
    public const string Messaging = "messaging";
    public const string Friends = "friends";

    public static readonly IReadOnlyList<Module> Modules =
    [
        new(Gateway, "long connections (TCP, WebSocket) and the HTTP API", "bus",
            b => b.AddGateway(), GatewayModule.AddGatewayConsumers, app => app.MapGateway()),
        new(Auth, "users, passwords, access and refresh tokens", "bus, database (auth)",
            b => b.AddAuth(), AuthModule.AddAuthConsumers, _ => { }),
        new(Messaging, "messages, conversations, sequence numbers, delivery, presence", "bus, database (messaging)",
            b => b.AddMessaging(), MessagingModule.AddMessagingConsumers, app => app.MapMessaging(), MessagingModule.ConfigureMessagingEndpoints),
        new(Friends, "friendships, friend requests, groups, user search", "bus, database (friends)",
            b => b.AddFriends(), FriendsModule.AddFriendsConsumers, app => app.MapFriends()),
    ];

    /// <summary>The modules a comma-separated target list names, in table order; unknown names stop the process.</summary>
    public static IReadOnlyList<Module> Resolve(string? spec)
    {
        var names = (string.IsNullOrWhiteSpace(spec) ? All : spec)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(n => n.ToLowerInvariant())
            .ToHashSet();
        var unknown = names.Where(n => n != All && Modules.All(m => m.Name != n)).ToList();
        if (unknown.Count > 0 || names.Count == 0)
            throw new StartupException(
                $"Unknown target '{string.Join(",", unknown)}'. Valid targets: {All}, {string.Join(", ", Modules.Select(m => m.Name))} " +
                "(comma-separated; see --list-targets).");
        return names.Contains(All) ? Modules : Modules.Where(m => names.Contains(m.Name)).ToList();
    }

    public static string Describe() =>
        string.Join(Environment.NewLine,
            Modules.Select(m => $"  {m.Name,-10} {m.Description}{Environment.NewLine}  {"",-10} needs: {m.Needs}")
                .Prepend($"  {All,-10} every target below, in one process (the only target the in-memory bus allows)"));
}
