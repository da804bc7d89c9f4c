using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EasyIm.Messaging.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class UpdateStream : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "stream_entries",
                columns: table => new
                {
                    user_id = table.Column<long>(type: "INTEGER", nullable: false),
                    position = table.Column<long>(type: "INTEGER", nullable: false),
                    conversation_id = table.Column<string>(type: "TEXT", maxLength: 48, nullable: false),
                    seq_from = table.Column<long>(type: "INTEGER", nullable: false),
                    seq_to = table.Column<long>(type: "INTEGER", nullable: false),
                    created_at = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_stream_entries", x => new { x.user_id, x.position });
                });

            migrationBuilder.CreateTable(
                name: "stream_heads",
                columns: table => new
                {
                    user_id = table.Column<long>(type: "INTEGER", nullable: false),
                    position = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_stream_heads", x => x.user_id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_stream_entries_created_at",
                table: "stream_entries",
                column: "created_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "stream_entries");

            migrationBuilder.DropTable(
                name: "stream_heads");
        }
    }
}
