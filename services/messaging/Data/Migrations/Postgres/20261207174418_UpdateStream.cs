using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EasyIm.Messaging.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class UpdateStream : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "stream_entries",
                schema: "messaging",
                columns: table => new
                {
                    user_id = table.Column<long>(type: "bigint", nullable: false),
                    position = table.Column<long>(type: "bigint", nullable: false),
                    conversation_id = table.Column<string>(type: "character varying(48)", maxLength: 48, nullable: false),
                    seq_from = table.Column<long>(type: "bigint", nullable: false),
                    seq_to = table.Column<long>(type: "bigint", nullable: false),
                    created_at = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_stream_entries", x => new { x.user_id, x.position });
                });

            migrationBuilder.CreateTable(
                name: "stream_heads",
                schema: "messaging",
                columns: table => new
                {
                    user_id = table.Column<long>(type: "bigint", nullable: false),
                    position = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_stream_heads", x => x.user_id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_stream_entries_created_at",
                schema: "messaging",
                table: "stream_entries",
                column: "created_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "stream_entries",
                schema: "messaging");

            migrationBuilder.DropTable(
                name: "stream_heads",
                schema: "messaging");
        }
    }
}
