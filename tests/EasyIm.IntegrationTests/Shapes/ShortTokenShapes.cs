namespace EasyIm.IntegrationTests.Shapes;

/// <summary>
/// Server instances of their own whose access tokens live <see cref="AccessLifetimeSeconds"/> seconds, so that a
/// test sees a live connection's token expire (the shared shapes keep easyim's 7,200 s).
/// </summary>
public static class ShortTokens
{
    public const int AccessLifetimeSeconds = 8;
    public static readonly TimeSpan AccessLifetime = TimeSpan.FromSeconds(AccessLifetimeSeconds);

    public static void Apply(Dictionary<string, string?> settings) =>
        settings["Auth:Tokens:AccessLifetimeSeconds"] = AccessLifetimeSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

public sealed class ShortTokenStandaloneShape : StandaloneShape
{
    protected override void Configure(Dictionary<string, string?> settings) => ShortTokens.Apply(settings);
}

/// <summary>On a RabbitMQ virtual host of its own, as every distributed shape: its auth never answers the shared shape's gateways.</summary>
public sealed class ShortTokenDistributedShape : DistributedShape
{
    protected override void Configure(Dictionary<string, string?> settings) => ShortTokens.Apply(settings);
}

[CollectionDefinition(Name)]
public sealed class ShortTokenStandaloneCollection : ICollectionFixture<ShortTokenStandaloneShape>
{
    public const string Name = "standalone, short tokens";
}

[CollectionDefinition(Name)]
public sealed class ShortTokenDistributedCollection : ICollectionFixture<ShortTokenDistributedShape>
{
    public const string Name = "distributed, short tokens";
}
