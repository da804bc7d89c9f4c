namespace EasyIm.IntegrationTests.Shapes;

/// <summary>One process with every service, the in-memory bus and SQLite files in a temporary directory.</summary>
public class StandaloneShape : EasyImShape
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "easyim-test-" + Guid.NewGuid().ToString("N"));

    public override string Name => "standalone";

    protected override Task PrepareAsync() => Task.CompletedTask;

    protected override IEnumerable<(string, Dictionary<string, string?>)> Hosts()
    {
        var settings = Common();
        settings["Bus:Transport"] = "InMemory";
        settings["Database:Provider"] = "Sqlite";
        settings["EasyIm:DataDirectory"] = _dataDirectory;
        settings["Gateway:ApiPort"] = ApiPort.ToString();
        settings["Gateway:Port"] = SocketPort.ToString();
        yield return ("all", settings);
    }

    protected override Task CleanUpAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_dataDirectory))
            Directory.Delete(_dataDirectory, recursive: true);
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class StandaloneCollection : ICollectionFixture<StandaloneShape>
{
    public const string Name = "standalone";
}
