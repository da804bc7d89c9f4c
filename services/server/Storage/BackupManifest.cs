using System.Text.Json;
using System.Text.Json.Serialization;

namespace EasyIm.Server.Storage;

/// <summary>
/// <c>manifest.json</c> in an <c>easyim backup</c> file: what it holds, so that <c>restore</c> can tell an
/// easyim backup from any zip and a complete copy from a damaged one before it touches a data directory.
/// </summary>
public sealed record BackupManifest(string Format, int FormatVersion, DateTimeOffset CreatedAt, string EasyImVersion, IReadOnlyList<BackedUpDatabase> Databases)
{
    public const string EntryName = "manifest.json";
    public const string FormatName = "easyim-backup";
    public const int CurrentVersion = 1;
    /// <summary>A manifest lists three files: anything near this size is not one, and is not read into memory.</summary>
    public const long MaxBytes = 1024 * 1024;

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}

/// <param name="Migration">The last EF Core migration applied to it, which says which easyim schema it has.</param>
/// <param name="Rows">Rows per table when it was copied; restore counts them again.</param>
public sealed record BackedUpDatabase(
    string Service,
    string File,
    long Bytes,
    string Sha256,
    string? Migration,
    [property: JsonPropertyName("rows")] IReadOnlyDictionary<string, long> Rows);
