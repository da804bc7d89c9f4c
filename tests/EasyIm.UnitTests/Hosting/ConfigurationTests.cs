using EasyIm.Hosting;
using EasyIm.Hosting.Bus;
using EasyIm.Hosting.Database;
using Microsoft.Extensions.Configuration;

namespace EasyIm.UnitTests.Hosting;

public class ConfigurationTests
{
    private static IConfiguration Config(params (string Key, string Value)[] pairs) =>
        new ConfigurationBuilder().AddInMemoryCollection(pairs.Select(p => KeyValuePair.Create(p.Key, (string?)p.Value))).Build();

    [Fact]
    public void A_rabbitmq_address_gives_host_port_vhost_and_credentials()
    {
        var endpoint = BusSetup.ParseRabbitMq("amqp://user%40x:p%3Ass@broker.local:5673/prod");

        Assert.Equal(new BusSetup.RabbitMqEndpoint("broker.local", 5673, "prod", "user@x", "p:ss"), endpoint);
        Assert.Equal(new BusSetup.RabbitMqEndpoint("127.0.0.1", 5672, "/", "guest", "guest"), BusSetup.ParseRabbitMq("amqp://127.0.0.1/"));
    }

    [Fact]
    public void An_amqps_address_is_tls_on_port_5671_unless_it_names_one()
    {
        Assert.Equal(new BusSetup.RabbitMqEndpoint("broker.local", 5671, "prod", "easyim", "s3cret", Tls: true),
            BusSetup.ParseRabbitMq("amqps://easyim:s3cret@broker.local/prod"));
        Assert.Equal(5674, BusSetup.ParseRabbitMq("amqps://127.0.0.1:5674/").Port);
        Assert.False(BusSetup.ParseRabbitMq("amqp://127.0.0.1/").Tls);
    }

    [Fact]
    public void A_wrong_rabbitmq_address_is_named_without_its_password()
    {
        var ex = Assert.Throws<StartupException>(() => BusSetup.ParseRabbitMq("http://easyim:hunter2@broker.local:5672/"));

        Assert.DoesNotContain("hunter2", ex.Message);
        Assert.Contains("easyim:***@broker.local", ex.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("http://127.0.0.1:5672/")]
    [InlineData("not a uri")]
    public void A_missing_or_wrong_rabbitmq_address_stops_start_up_naming_the_key(string? value)
    {
        var ex = Assert.Throws<StartupException>(() => BusSetup.ParseRabbitMq(value));

        Assert.Contains("ConnectionStrings:rabbitmq", ex.Message);
    }

    [Fact]
    public void Transport_and_provider_default_to_in_memory_and_sqlite_and_refuse_unknown_values()
    {
        Assert.Equal(BusTransport.InMemory, Config().GetBusTransport());
        Assert.Equal(BusTransport.RabbitMq, Config(("Bus:Transport", "rabbitmq")).GetBusTransport());
        Assert.Equal(DatabaseProvider.Sqlite, Config().GetDatabaseProvider());
        Assert.Equal(DatabaseProvider.Postgres, Config(("Database:Provider", "PostgreSQL")).GetDatabaseProvider());
        Assert.Contains("Bus:Transport", Assert.Throws<StartupException>(() => Config(("Bus:Transport", "kafka")).GetBusTransport()).Message);
        Assert.Contains("Database:Provider", Assert.Throws<StartupException>(() => Config(("Database:Provider", "mysql")).GetDatabaseProvider()).Message);
    }

    [Fact]
    public void Postgres_needs_a_connection_string_and_says_which()
    {
        var ex = Assert.Throws<StartupException>(() => DatabaseSetup.PostgresConnectionString(Config(), "friends"));

        Assert.Contains("ConnectionStrings:friends", ex.Message);
        Assert.Equal("Host=a", DatabaseSetup.PostgresConnectionString(Config(("ConnectionStrings:postgres", "Host=a")), "friends"));
        Assert.Equal("Host=b", DatabaseSetup.PostgresConnectionString(Config(("ConnectionStrings:postgres", "Host=a"), ("ConnectionStrings:friends", "Host=b")), "friends"));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("70000")]
    public void A_bad_port_stops_start_up_naming_the_key(string value)
    {
        var ex = Assert.Throws<StartupException>(() => Config(("Gateway:Port", value)).GetPort("Gateway:Port", 8888));

        Assert.Contains("Gateway:Port", ex.Message);
    }

    [Fact]
    public void Easyim_dotenv_names_map_onto_easyim_keys()
    {
        var dir = Directory.CreateTempSubdirectory("easyim-env-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, ".env"), """
                # easyim's own .env
                SERVER_PORT = "9000"
                API_SERVER_PORT=9001
                SERVER_DROP_AFTER='120'
                DB_DRIVER = "sqlite3"
                MSG_FORMAT = "json"
                """);

            var settings = EasyImConfiguration.ReadLegacySettings(dir);

            Assert.Equal("9000", settings["Gateway:Port"]);
            Assert.Equal("9001", settings["Gateway:ApiPort"]);
            Assert.Equal("120", settings["Gateway:DropAfter"]);
            Assert.Equal("Sqlite", settings["Database:Provider"]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
